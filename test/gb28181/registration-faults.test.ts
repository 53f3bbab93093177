import t from 'tap';
import { received, startSippPlatform, type LoggedSip } from '../helpers/sipp-platform.js';
import { captureLog, CHAN_A, DEVICE_ID, DOMAIN, PASSWORD, SERVER_ID, startDevice, TwoCameras } from './gb-rig.js';

const header = (m: LoggedSip, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(m.headers)?.[1]?.trim();
const keys = { server: SERVER_ID, domain: DOMAIN, devid: DEVICE_ID, chan: CHAN_A, password: PASSWORD, rstart: '2026-12-05T00:00:00', rend: '2026-12-05T01:00:00' };

t.test('keepalives unanswered 3 times: the device counts the platform lost and registers again', async (t) => {
  const cams = new TwoCameras();
  t.teardown(() => cams.close());
  const sipp = await startSippPlatform(t, { scenario: 'silent-platform.xml', transport: 'UDP', keys });
  const { log, lines } = captureLog();
  const dev = startDevice(t, { port: sipp.port, transport: 'UDP', source: cams, log });
  const states: string[] = [];
  dev.on('state', (s: string) => states.push(s));
  await dev.start();
  const twice = new Promise<void>((resolve) => dev.on('state', (s: string) => s === 'registered' && dev.registrar.registrations >= 2 && resolve()));
  await twice;
  t.same(states.slice(0, 5), ['registering', 'registered', 'offline', 'registering', 'registered']);
  // What SIPp received is logged as it arrives, but read it once the second authorised REGISTER is there.
  const authorised = (ms: LoggedSip[]) => received(ms, /^REGISTER /).filter((m) => /Authorization: Digest/.test(m.headers));
  const ms = await sipp.waitFor('the second authorised REGISTER in the log', (m) => authorised(m).length >= 2).catch(() => sipp.messages());
  const authed = authorised(ms);
  t.equal(authed.length, 2, 'registered again');
  t.equal(new Set(authed.map((m) => header(m, 'Call-ID'))).size, 1, 'in the same registration Call-ID');
  const keepalives = new Set(received(ms, /^MESSAGE /, /<CmdType>Keepalive<\/CmdType>/).map((m) => /<SN>(\d+)</.exec(m.body)![1]));
  t.ok(keepalives.size >= 3, `3 keepalives sent before giving up (${keepalives.size} distinct SNs)`);
  const misses = lines.filter((l) => l.msg === 'keepalive not answered').map((l) => l.misses);
  t.same(misses.slice(0, 3), [1, 2, 3]);
  t.ok(lines.some((l) => l.msg === 'platform lost: keepalives unanswered; registering again'), 'logged');
});

t.test('a wrong password: 403 from the platform, logged, tried again later, the device keeps running', async (t) => {
  const cams = new TwoCameras();
  t.teardown(() => cams.close());
  const sipp = await startSippPlatform(t, { scenario: 'platform.xml', transport: 'UDP', keys });
  const { log, lines } = captureLog();
  const dev = startDevice(t, { port: sipp.port, transport: 'UDP', source: cams, log, password: 'not-the-password' });
  await dev.start();
  await new Promise<void>((resolve) => {
    let n = 0;
    dev.on('state', (s: string) => s === 'refused' && ++n === 2 && resolve());
  });
  // SIPp logs what it sent after sending it: the device may hear the second 403 before it is in the log.
  const sent403 = (ms: LoggedSip[]) => ms.filter((m) => m.direction === 'sent' && /^SIP\/2\.0 403/.test(m.startLine));
  const ms = await sipp.waitFor('the second 403 in the log', (m) => sent403(m).length >= 2).catch(() => sipp.messages());
  t.equal(received(ms, /^SIP\/2\.0 403/).length, 0);
  t.ok(sent403(ms).length >= 2, 'refused twice, retried after retryMs');
  const failed = lines.filter((l) => l.msg === 'registration failed: the platform refused the device (403 Forbidden): check gb28181.deviceId and the password on both sides');
  t.ok(failed.length >= 2, 'a clear log line each time');
  t.equal(failed[0]!.status, 403);
  t.equal(dev.registrar.registrations, 0);
  t.equal(received(ms, /^MESSAGE /).length, 0, 'no keepalive while not registered');
});
