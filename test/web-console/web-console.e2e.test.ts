// The web console in a real browser (Debian's Chromium, driven by playwright-core), end to end.
import t from 'tap';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeMessage } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';
import { ConsoleAudit } from '../../console/server/console-audit.js';
import { decodeTrackColumns } from '../../console/store/track-columns.js';
import { loadScaled } from '../helpers/deadline.js';
import type { TapTest } from '../helpers/tap-test.js';
import { SpotRig } from '../spot-check/spot-rig.js';
import { ARTEFACTS, launch, login, screenshot } from './browser.js';
import { ConsoleProcess, type ConsoleExit } from './console-process.js';

/**
 * The web console end to end, with real parts: two simulated cameras with
 * H.264 video (ffmpeg) on pseudo-terminals, mosquitto, the agent,
 * `bwc-console serve` as a process, and Debian's Chromium driven by
 * playwright-core (one browser for the file). Waits are judged by
 * completion (an element appears, a count is reached); their deadlines only
 * stop a broken run from waiting forever, stretched by the machine's load.
 * Screenshots are kept in test-artifacts/web-console/.
 */
// Real cameras, agent, broker and browser on a shared 2-core machine: judged by completion.
t.setTimeout(900_000);

/**
 * A subscriber that has just come (a console started or restarted) holds
 * the compact live fixes of a device until its next full form: at most the
 * agent's publish.liveFullEveryS later (60 s, the rig's agent keeps the
 * default; protocol/README.md, "The live path"). Waits for positions allow for it.
 */
const LIVE_FULL_EVERY_MS = 60_000;
const positionsDeadline = () => LIVE_FULL_EVERY_MS + loadScaled(60_000);

interface SocketSeen {
  started: string[];
  ended: string[];
}

/** A stop is clean when it exits 0, or is cut short by design at the end of its grace (common/cli-kit.ts). */
function stoppedCleanly(t: TapTest, exit: ConsoleExit, output: string): void {
  const forced = exit.code === 1 && /did not stop within \d+ ms of SIG/.test(output);
  t.ok(exit.code === 0 || forced, `the console stopped on SIGTERM in ${exit.ms} ms (${forced ? 'cut short at the end of its grace' : exit.signal ? `killed by ${exit.signal}` : `status ${exit.code}`})`);
}

t.test('web console: map, fleet, alarms, spot checks, live video, replay, roles', { timeout: 880_000 }, async (t) => {
  // Small pictures keep the cameras' encoders cheap; recordings stay MJPEG (the pre-made clip below).
  const rig = await SpotRig.start(t, { cameras: 2, clipBytes: 300_000, readyTimeoutMs: loadScaled(120_000), video: { live: { width: 320, height: 180, fps: 15, kbps: 300 }, record: false } });
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
  // What the page's socket said about live views, seen just before the page's own handler sees it.
  await page.addInitScript(() => {
    const seen: SocketSeen = { started: [], ended: [] };
    (window as unknown as { bwcSocketSeen: SocketSeen }).bwcSocketSeen = seen;
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('message', (e: MessageEvent) => {
          if (typeof e.data !== 'string') return;
          const m = JSON.parse(e.data) as { type: string; live?: string };
          if (m.type === 'live-started') seen.started.push(m.live!);
          else if (m.type === 'live-ended') seen.ended.push(m.live!);
        });
      }
    };
  });
  // A failed run leaves the page as it was, beside the other screenshots.
  t.teardown(async () => {
    if (!t.passing()) t.comment(`the page at the failure: ${await screenshot(page, 'failure').catch((e: Error) => e.message)}`);
  });
  await login(page, con.url, 'sup', 'correct horse');
  const [d1, d2] = rig.devices as [string, string];

  await t.test('a marker and a list row for every officer', async (t) => {
    for (const d of rig.devices) {
      await page.waitForSelector(`.marker[data-device="${d}"]`, { state: 'attached', timeout: positionsDeadline() });
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
    await page.waitForSelector('tr[data-device="EVIL-1"]', { state: 'attached' });
    t.equal(await page.textContent('tr[data-device="EVIL-1"] td:nth-child(2)'), evil, 'the name shows as typed');
    t.equal(await page.locator('tr[data-device="EVIL-1"] img, tr[data-device="EVIL-1"] b, tr[data-device="EVIL-1"] script').count(), 0, 'no element was made from it');
    t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
  });

  await t.test('SOS shows a banner that stays until acknowledged', async (t) => {
    rig.camera(d1).pressSos();
    await page.waitForSelector('[data-alarm=sos]');
    t.match(await page.textContent('[data-alarm=sos]'), new RegExp(d1));
    t.comment(await screenshot(page, 'sos'));
    await page.click('[data-alarm=sos] [data-action=ack]');
    await page.waitForSelector('[data-alarm=sos]', { state: 'detached' });
  });

  await t.test('snapshot and clip from the browser, SHA-256 verified and shown', async (t) => {
    await page.click(`tr[data-device="${d2}"] [data-action=snapshot]`);
    await page.waitForSelector('.spot[data-spot=snapshot]');
    t.ok(await page.$('.spot-ok[data-spot=snapshot]'), (await page.textContent('.spot[data-spot=snapshot]')) ?? '');
    await page.waitForFunction(() => ((document.querySelector('.spot-ok[data-spot=snapshot] img') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0);
    const size = await page.evaluate(() => {
      const img = document.querySelector('.spot-ok[data-spot=snapshot] img') as HTMLImageElement;
      return { w: img.naturalWidth, h: img.naturalHeight };
    });
    t.same(size, { w: 320, h: 180 }, 'the snapshot shows, a picture of the video (the camera\'s own JPEG is 320x240)');

    await page.click(`tr[data-device="${d2}"] [data-action=clip]`);
    // 300 kB over the camera's serial link.
    await page.waitForSelector('.spot[data-spot=clip]', { timeout: loadScaled(180_000) });
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

  await t.test('spot check of a random recording officer plays live H.264', async (t) => {
    await page.fill('#spot-n', '1');
    // A camera whose encoder sent nothing within the agent's 5 s (the simulator's ffmpeg starting
    // on a loaded machine) ends the view with no frame and says why: the spot check is asked again.
    for (let attempt = 1; ; attempt++) {
      await page.click('[data-action=spot-check]');
      await page.waitForSelector('video[data-live]');
      // Decoded pictures: the canvas takes the size of the H.264 picture (it starts at 640x360).
      const outcome = await page.waitForFunction(() => {
        const e = document.querySelector('video[data-live]') as HTMLVideoElement;
        if (Number(e.dataset.drawn ?? 0) >= 3 && e.videoWidth === 320) return { playing: true, why: '', frames: 0 };
        return e.dataset.ended !== undefined && { playing: false, why: e.dataset.ended, frames: Number(e.dataset.frames ?? 0) };
      });
      const o = (await outcome.jsonValue()) as { playing: boolean; why: string; frames: number };
      if (o.playing) break;
      if (o.frames > 0 || attempt === 3 || !/sent no video|no keyframe/.test(o.why)) {
        t.fail(`the live view ended before it played (${o.frames} frames): ${o.why}`);
        return;
      }
      t.comment(`attempt ${attempt}: the camera sent no video (${o.why}); asking again`);
      await page.click('[data-action=stop-live]');
      await page.waitForSelector('video[data-live]', { state: 'detached' });
    }
    const video = () => page.evaluate(() => {
      const e = document.querySelector('video[data-live]') as HTMLVideoElement;
      return { device: e.dataset.live!, codec: e.dataset.codec ?? '', frames: Number(e.dataset.frames ?? 0), drawn: Number(e.dataset.drawn ?? 0), w: e.videoWidth, h: e.videoHeight, time: e.currentTime, paused: e.paused };
    });
    const a = await video();
    // The element plays: its time advances while more pictures are decoded.
    await page.waitForFunction((v0) => {
      const e = document.querySelector('video[data-live]') as HTMLVideoElement;
      return e.currentTime > v0.time + 0.5 && Number(e.dataset.drawn ?? 0) > v0.drawn + 3;
    }, a);
    const b = await video();
    t.ok(rig.devices.includes(b.device), `the video is of a fleet camera (${b.device})`);
    t.match(b.codec, /^avc1\./, `H.264 from the camera, decoded in the page (${b.codec})`);
    t.same({ w: b.w, h: b.h }, { w: 320, h: 180 }, 'the video element shows the camera\'s picture size');
    t.ok(b.time > a.time, `the video's time advances (${a.time.toFixed(2)} s → ${b.time.toFixed(2)} s, ${b.drawn} pictures of ${b.frames} frames)`);
    t.equal(b.paused, false, 'it plays');
    // The picture is not blank: the camera's overlay and scene give it detail.
    const spread = await page.evaluate(() => {
      const e = document.querySelector('video[data-live]') as HTMLVideoElement;
      const c = document.createElement('canvas');
      c.width = e.videoWidth;
      c.height = e.videoHeight;
      const x = c.getContext('2d')!;
      x.drawImage(e, 0, 0);
      const px = x.getImageData(0, 0, c.width, c.height).data;
      let lo = 255;
      let hi = 0;
      for (let i = 0; i < px.length; i += 4) {
        const y = (px[i]! + px[i + 1]! + px[i + 2]!) / 3;
        lo = Math.min(lo, y);
        hi = Math.max(hi, y);
      }
      return hi - lo;
    });
    t.ok(spread > 40, `the picture has detail (brightness range ${Math.round(spread)})`);
    t.comment(await screenshot(page, 'live'));
    await page.click('[data-action=stop-live]');
    await page.waitForSelector('video[data-live]', { state: 'detached' });
    // Frames already on their way when Stop was pressed must not bring a player back: once the
    // page has its live-ended (the server's last message of a view), every frame has come.
    await page.waitForFunction(() => {
      const seen = (window as unknown as { bwcSocketSeen: SocketSeen }).bwcSocketSeen;
      return seen.started.length > 0 && seen.started.every((id) => seen.ended.includes(id));
    });
    t.equal(await page.locator('video[data-live]').count(), 0, 'the live view stays closed after its last frames came');
  });

  await t.test('replay draws the track; export as GPX', async (t) => {
    await page.fill('input[name=replay-devices]', d1);
    // Up to now: the panel's default end is when the page was loaded.
    await page.evaluate(() => {
      const to = document.querySelector('input[name=replay-to]') as HTMLInputElement;
      to.value = new Date(Date.now() + 60_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    });
    await page.click('[data-action=replay]');
    await page.waitForFunction(() => Number(document.getElementById('map')!.dataset.replayPoints ?? 0) >= 5);
    const points = Number(await page.getAttribute('#map', 'data-replay-points'));
    t.ok(points >= 5, `${points} fixes drawn`);
    t.comment(await screenshot(page, 'replay'));
    const href = (await page.getAttribute('[data-action=export-gpx]', 'href'))!;
    const gpx = await page.evaluate(async (u) => (await fetch(u)).text(), href);
    t.ok((gpx.match(/<trkpt /g) ?? []).length >= points, 'the GPX holds the replayed fixes');
    // The page loads the replay as binary columns; the JSON form says the same. (A range whose fixes are all in.)
    const q = `devices=${d1},${d2}&from=${consoleSince - 60_000}&to=${Date.now() - 30_000}`;
    const json = (await (await page.request.get(`${con.url}api/track?${q}`)).json()) as { stops: unknown[]; devices: Record<string, { t: number[]; lat: number[]; lon: number[]; acc: Array<number | null> }> };
    const res = await page.request.get(`${con.url}api/track?format=columns&${q}`);
    t.equal(res.headers()['content-type'], 'application/vnd.bwc.track-columns');
    const body = await res.body();
    const cols = decodeTrackColumns<{ stops: unknown[] }>(body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer);
    t.same(cols.tracks.map((c) => ({ device: c.device, t: [...c.t], lat: [...c.lat], lon: [...c.lon], acc: [...c.acc].map((a) => (Number.isNaN(a) ? null : Math.round(a * 10) / 10)) })),
      Object.entries(json.devices).map(([device, d]) => ({ device, t: d.t, lat: d.lat, lon: d.lon, acc: d.acc })), `the same fixes of ${cols.tracks.length} devices`);
    t.same(cols.head.stops, json.stops, 'and the same stops');
  });

  await t.test('roles and CSRF are checked on every API', async (t) => {
    const anon = await browser.newContext();
    t.teardown(() => anon.close());
    t.equal((await anon.request.get(`${con.url}api/fleet`)).status(), 401, 'no session: 401');
    t.equal((await anon.request.get(`${con.url}api/track?devices=${d1}`)).status(), 401);
    const viewer = await anon.newPage();
    await login(viewer, con.url, 'eve', 'viewer pass 2');
    await viewer.waitForSelector(`tr[data-device="${d1}"]`, { state: 'attached' });
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
    // A live view was open and stopped: nothing of it may keep the console from stopping.
    stoppedCleanly(t, await con.stop(), con.output);
    // Fixes go on while the console is down; its persistent session keeps them at the broker.
    const downAt = Date.now();
    await rig.recorder.waitFor(() => rig.recorder.fixes().filter((f) => f.receivedMs > downAt).length >= 6, loadScaled(60_000), 'fixes while the console is down');
    con = await ConsoleProcess.start(t, ['--broker', rig.broker.url, '--key', rig.keyFile], dataDir);
    const db = new Database(join(dataDir, 'tracks.sqlite'), { readonly: true });
    t.teardown(() => db.close());
    const want = rig.recorder.fixes().filter((f) => f.receivedMs > consoleSince + 1000 && f.receivedMs < Date.now() - 1000).map((f) => `${f.device}@${Date.parse(String(f.time))}`);
    const stmt = db.prepare('SELECT device, time_ms FROM fixes');
    let missing: string[] = [];
    // The backlog's compact live fixes are stored once the next full form places them.
    const deadline = Date.now() + positionsDeadline();
    do {
      const have = new Set((stmt.all() as Array<{ device: string; time_ms: number }>).map((r) => `${r.device}@${r.time_ms}`));
      missing = want.filter((k) => !have.has(k));
      if (missing.length) await new Promise((r) => setTimeout(r, 500));
    } while (missing.length && Date.now() < deadline);
    t.same(missing, [], `all ${want.length} fixes the fleet sent are stored`);
    stoppedCleanly(t, await con.stop(), con.output);
  });

  t.same(pageErrors, [], 'no script errors on the page');
  t.comment(`screenshots: ${ARTEFACTS}`);
});
