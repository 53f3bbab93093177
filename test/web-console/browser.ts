import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/paths.js';

export const CHROMIUM = process.env.BWC_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Screenshots are kept as test artefacts here (ignored by git). */
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

export async function login(page: Page, url: string, name: string, password: string): Promise<void> {
  // A shared, loaded machine: waits end when the page is ready, with room to spare.
  page.setDefaultTimeout(120_000);
  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await page.click('[data-action=login]');
  await page.waitForSelector('#app:not([hidden])');
}
