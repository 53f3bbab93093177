// The web console in a real browser (Chromium): `npm run test:browser`. Not yet part of `npm test`:
// it has not passed end to end reliably (it stalls after the live view on a loaded machine).
import t from 'tap';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeMessage } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';
import { ConsoleAudit } from '../../console/server/console-audit.js';
import { SpotRig } from '../spot-check/spot-rig.js';
import { launch, login, screenshot } from '../web-console/browser.js';
import { ConsoleProcess } from '../web-console/console-process.js';

/**
 * The web console end to end, with real parts: two simulated cameras on
 * pseudo-terminals, mosquitto, the agent, `bwc-console serve` as a process,
 * and Debian's Chromium driven by playwright-core (one browser for the file).
 * Waits are judged by completion (an element appears, a count is reached),
 * with generous deadlines.
 */
// Real cameras, agent, broker and browser on a shared 2-core machine: generous, judged by completion.
t.setTimeout(900_000);

t.test('web console: map, fleet, alarms, spot checks, live view, replay, roles', { timeout: 840_000 }, async (t) => {
  const rig = await SpotRig.start(t, { cameras: 2, clipBytes: 300_000, readyTimeoutMs: 240_000 });
  const dataDir = join(rig.dir, 'console');
  mkdirSync(dataDir, { recursive: true });
  await ConsoleProcess.addUser(dataDir, 'sup', 'supervisor', 'correct horse');
  await ConsoleProcess.addUser(dataDir, 'eve', 'viewer', 'viewer pass 1');
  // Idempotent: a second call changes the password.
  await ConsoleProcess.addUser(dataDir, 'eve', 'viewer', 'viewer pass 2');
  let con = await ConsoleProcess.start(t, ['--broker', rig.broker.url, '--key', rig.keyFile], dataDir);
  // The console's session begins here: what the fleet sent before is not its to store.
  const consoleSince = Date.now();

  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await login(page, con.url, 'sup', 'correct horse');
  const [d1, d2] = rig.devices as [string, string];

  await t.test('a marker and a list row for every officer', async (t) => {
    for (const d of rig.devices) {
      await page.waitForSelector(`.marker[data-device="${d}"]`, { state: 'attached', timeout: 60_000 });
      await page.waitForSelector(`tr[data-device="${d}"]`, { state: 'attached' });
    }
    const cls = await page.getAttribute(`.marker[data-device="${d1}"]`, 'class');
    t.match(cls, /rec-recording/, 'a recording camera shows red (rec-recording)');
    t.comment(await screenshot(page, 'fleet'));
  });

  await t.test('search by officer number; device strings are text, never HTML', async (t) => {
    const officer = (await page.textContent(`tr[data-device="${d2}"] td:nth-child(1)`))!.trim();
    t.match(officer, /^\d{6}$/);
    await page.fill('#search', officer);
    await page.waitForFunction(() => [...document.querySelectorAll('#fleet tbody tr')].filter((r) => !(r as HTMLElement).hidden).length === 1);
    t.equal(await page.isVisible(`tr[data-device="${d2}"]`), true);
    await page.fill('#search', '');

    // A device whose officer name is markup: it must show as the literal characters.
    const pub = await mqtt.connectAsync(rig.broker.url);
    const evil = '<img src=x onerror="window.pwned=1"><b>X</b>';
    await pub.publishAsync(new Topics().device('EVIL-1', 'status'), Buffer.from(encodeMessage('Status', { deviceId: 'EVIL-1', seq: 1, session: 1, sentMs: Date.now() }, {
      online: true, recording: 'RECORDING_STATE_OFF', officer: { officerNumber: '999999', name: evil, unitNumber: '1', unitName: '</td><script>window.pwned=2</script>' },
    })), { qos: 1, retain: false });
    await pub.endAsync();
    await page.waitForSelector('tr[data-device="EVIL-1"]', { state: 'attached', timeout: 30_000 });
    t.equal(await page.textContent('tr[data-device="EVIL-1"] td:nth-child(2)'), evil, 'the name shows as typed');
    t.equal(await page.locator('tr[data-device="EVIL-1"] img, tr[data-device="EVIL-1"] b, tr[data-device="EVIL-1"] script').count(), 0, 'no element was made from it');
    t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
  });

  await t.test('SOS shows a banner that stays until acknowledged', async (t) => {
    rig.camera(d1).pressSos();
    await page.waitForSelector('[data-alarm=sos]', { timeout: 60_000 });
    t.match(await page.textContent('[data-alarm=sos]'), new RegExp(d1));
    t.comment(await screenshot(page, 'sos'));
    await page.click('[data-alarm=sos] [data-action=ack]');
    await page.waitForSelector('[data-alarm=sos]', { state: 'detached', timeout: 30_000 });
  });

  await t.test('snapshot and clip from the browser, SHA-256 verified and shown', async (t) => {
    await page.click(`tr[data-device="${d2}"] [data-action=snapshot]`);
    await page.waitForSelector('.spot[data-spot=snapshot]', { timeout: 120_000 });
    t.ok(await page.$('.spot-ok[data-spot=snapshot]'), (await page.textContent('.spot[data-spot=snapshot]')) ?? '');
    await page.waitForFunction(() => (document.querySelector('.spot-ok[data-spot=snapshot] img') as HTMLImageElement | null)?.naturalWidth ?? 0 > 0, undefined, { timeout: 30_000 });

    await page.click(`tr[data-device="${d2}"] [data-action=clip]`);
    await page.waitForSelector('.spot[data-spot=clip]', { timeout: 180_000 });
    const text = (await page.textContent('.spot[data-spot=clip]'))!;
    const want = rig.clips.get(d2)!.sha256;
    t.match(text, new RegExp(`SHA-256 ${want} \\(verified\\)`), 'the clip\'s hash, as the camera made it, is shown verified');
    const href = (await page.getAttribute('.spot[data-spot=clip] a', 'href'))!;
    const got = await page.evaluate(async (u) => {
      const buf = await (await fetch(u)).arrayBuffer();
      return [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
    }, href);
    t.equal(got, want, 'the downloaded clip hashes to the same');
  });

  await t.test('spot check of a random recording officer plays live video', async (t) => {
    await page.fill('#spot-n', '1');
    await page.click('[data-action=spot-check]');
    await page.waitForSelector('video[data-live]', { timeout: 60_000 });
    await page.waitForFunction(() => Number((document.querySelector('video[data-live]') as HTMLVideoElement).dataset.frames ?? 0) >= 3, undefined, { timeout: 90_000 });
    const t1 = await page.evaluate(() => (document.querySelector('video[data-live]') as HTMLVideoElement).currentTime);
    await page.waitForFunction((t0) => (document.querySelector('video[data-live]') as HTMLVideoElement).currentTime > t0 + 0.5, t1, { timeout: 30_000 });
    const v = await page.evaluate(() => {
      const e = document.querySelector('video[data-live]') as HTMLVideoElement;
      return { device: e.dataset.live, w: e.videoWidth, frames: Number(e.dataset.frames) };
    });
    t.ok(rig.devices.includes(v.device!), `the video is of a fleet camera (${v.device})`);
    t.ok(v.w > 0, `the video has a picture (${v.w} px wide, ${v.frames} frames)`);
    t.comment(await screenshot(page, 'live'));
    await page.click('[data-action=stop-live]');
    await page.waitForSelector('video[data-live]', { state: 'detached' });
  });

  await t.test('replay draws the track; export as GPX', async (t) => {
    await page.fill('input[name=replay-devices]', d1);
    await page.click('[data-action=replay]');
    await page.waitForFunction(() => Number(document.getElementById('map')!.dataset.replayPoints ?? 0) >= 5, undefined, { timeout: 30_000 });
    const points = Number(await page.getAttribute('#map', 'data-replay-points'));
    t.ok(points >= 5, `${points} fixes drawn`);
    t.comment(await screenshot(page, 'replay'));
    const href = (await page.getAttribute('[data-action=export-gpx]', 'href'))!;
    const gpx = await page.evaluate(async (u) => (await fetch(u)).text(), href);
    t.ok((gpx.match(/<trkpt /g) ?? []).length >= points, 'the GPX holds the replayed fixes');
  });

  await t.test('roles and CSRF are checked on every API', async (t) => {
    const anon = await browser.newContext();
    t.teardown(() => anon.close());
    t.equal((await anon.request.get(`${con.url}api/fleet`)).status(), 401, 'no session: 401');
    t.equal((await anon.request.get(`${con.url}api/track?devices=${d1}`)).status(), 401);
    const viewer = await anon.newPage();
    await login(viewer, con.url, 'eve', 'viewer pass 2');
    await viewer.waitForSelector(`tr[data-device="${d1}"]`, { state: 'attached', timeout: 30_000 });
    t.equal(await viewer.isDisabled(`tr[data-device="${d1}"] [data-action=live]`), true, 'a viewer gets no spot-check actions');
    const codes = await viewer.evaluate(async (dev) => {
      const s = (await (await fetch('/api/session')).json()) as { csrf: string };
      const post = (body: unknown, csrf?: string) => fetch('/api/spot', { method: 'POST', headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) }, body: JSON.stringify(body) }).then((r) => r.status);
      return { viewerSpot: await post({ kind: 'snapshot', device: dev }, s.csrf) };
    }, d1);
    t.equal(codes.viewerSpot, 403, 'a viewer may not pull footage');
    const noCsrf = await page.evaluate(async (dev) => (await fetch('/api/spot', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'snapshot', device: dev }) })).status, d1);
    t.equal(noCsrf, 403, 'a supervisor\'s request without the CSRF token is refused');
    const formLogin = await anon.request.post(`${con.url}api/login`, { form: { name: 'sup', password: 'correct horse' } });
    t.equal(formLogin.status(), 415, 'a form post (cross-site) cannot log in');
    t.equal((await anon.request.post(`${con.url}api/login`, { data: { name: 'eve', password: 'viewer pass 1' } })).status(), 401, 'the old password no longer works');
  });

  await t.test('every view is audited, in a chain', async (t) => {
    const entries = ConsoleAudit.verify(join(dataDir, 'console-audit.log'));
    const did = (action: string) => entries.some((e) => e.action === action && e.user === 'sup');
    for (const a of ['login', 'alarm.ack', 'spot-check.snapshot', 'spot-check.snapshot.view', 'spot-check.clip', 'spot-check.clip.view', 'live.start', 'live.end', 'track.export']) t.ok(did(a), a);
    // The officer is told on the camera: the agent audits each command it ran for this console's key.
    t.ok(rig.auditEntries().some((e) => JSON.stringify(e).includes('liveFeed')), 'the agent ran the live feed');
  });

  await t.test('the track store misses nothing, across a console restart', async (t) => {
    await con.stop();
    // Fixes go on while the console is down; its persistent session keeps them at the broker.
    const downAt = Date.now();
    await rig.recorder.waitFor(() => rig.recorder.fixes().filter((f) => f.receivedMs > downAt).length >= 6, 60_000, 'fixes while the console is down');
    con = await ConsoleProcess.start(t, ['--broker', rig.broker.url, '--key', rig.keyFile], dataDir);
    const db = new Database(join(dataDir, 'tracks.sqlite'), { readonly: true });
    t.teardown(() => db.close());
    const want = rig.recorder.fixes().filter((f) => f.receivedMs > consoleSince + 1000 && f.receivedMs < Date.now() - 1000).map((f) => `${f.device}@${Date.parse(String(f.time))}`);
    const stmt = db.prepare('SELECT device, time_ms FROM fixes');
    let missing: string[] = [];
    const deadline = Date.now() + 60_000;
    do {
      const have = new Set((stmt.all() as Array<{ device: string; time_ms: number }>).map((r) => `${r.device}@${r.time_ms}`));
      missing = want.filter((k) => !have.has(k));
      if (missing.length) await new Promise((r) => setTimeout(r, 500));
    } while (missing.length && Date.now() < deadline);
    t.same(missing, [], `all ${want.length} fixes the fleet sent are stored`);
  });

  t.same(pageErrors, [], 'no script errors on the page');
});
