import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadScaled } from '../helpers/deadline.js';
import { repoRoot } from '../helpers/paths.js';

export const CHROMIUM = process.env.BWC_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Screenshots are kept as test artefacts here (ignored by git): test-artifacts/web-console/. */
export const ARTEFACTS = join(repoRoot, 'test-artifacts', 'web-console');

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTEFACTS, { recursive: true });
  const file = join(ARTEFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Logs in. `timeoutMs` becomes the page's default for waits: they end when
 * the page is ready; the deadline only stops a broken run, so it is
 * stretched by the machine's load.
 */
export async function login(page: Page, url: string, name: string, password: string, timeoutMs = loadScaled(120_000)): Promise<void> {
  page.setDefaultTimeout(timeoutMs);
  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await page.click('[data-action=login]');
  await page.waitForSelector('#app:not([hidden])');
}
