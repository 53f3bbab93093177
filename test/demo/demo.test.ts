import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadScaled } from '../helpers/deadline.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { FleetRecorder } from '../helpers/fleet-recorder.js';
import { agentCli } from '../helpers/paths.js';

/**
 * The newcomer's command: simulated cameras + agent, publishing to a real
 * broker; every fix the cameras emitted (--summary) reaches it.
 */
t.test('demo publishes every fix its cameras emitted and writes the summary', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-demo-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const recorder = await FleetRecorder.start(broker.url);
  t.teardown(() => recorder.stop());
  const summaryFile = join(dir, 'summary.json');
  const child = spawn(process.execPath, [agentCli, 'demo', '--broker', broker.url, '--cameras', '2', '--duration', '12', '--data-dir', join(dir, 'data'), '--summary', summaryFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.equal(code, 0, out);
  t.match(out, /BWC-0001/, 'a line per camera');

  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { devices: Record<string, { fixes: number; first: string; last: string }> };
  t.same(Object.keys(summary.devices).sort(), ['BWC-0001', 'BWC-0002']);
  for (const [device, s] of Object.entries(summary.devices)) {
    t.ok(s.fixes >= 8, `${device}: ${s.fixes} fixes emitted`);
    const delivered = new Set(recorder.fixes(device).map((f) => f.time as string));
    // From the first fix the agent read: a camera's first seconds can pass
    // before the agent has opened its port (as when a camera is plugged in).
    const firstRead = Math.max(Date.parse(s.first), Math.min(...[...delivered].map((d) => Date.parse(d))));
    t.ok(firstRead - Date.parse(s.first) <= 5000, `${device}: the agent was reading within 5 s of the first fix (${firstRead - Date.parse(s.first)} ms)`);
    const missing: string[] = [];
    for (let ms = firstRead; ms <= Date.parse(s.last); ms += 1000) {
      const time = new Date(ms).toISOString();
      if (!delivered.has(time)) missing.push(time);
    }
    t.same(missing, [], `${device}: every fix emitted from ${new Date(firstRead).toISOString()} to ${s.last} reached the broker`);
  }
  t.ok(recorder.records.some((r) => r.type === 'status'), 'status reached the broker');
  t.ok(recorder.records.some((r) => r.type === 'agent' && r.online === false), 'the agent said offline when the demo ended');
});

t.test('demo with its console port taken: the console takes another, and the demo still ends', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-demo-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const child = spawn(process.execPath, [agentCli, 'demo', '--broker', broker.url, '--cameras', '1', '--duration', '3', '--data-dir', join(dir, 'data'), '--console-listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // The first try at the taken port once left its broker feed running: the demo never exited.
  const code = await new Promise<number | null | 'still running'>((r) => {
    child.once('exit', (c) => r(c));
    setTimeout(() => r('still running'), loadScaled(60_000)).unref();
  });
  t.equal(code, 0, out);
  const url = /console: (http:\/\/\S+)/.exec(out)?.[1] ?? '';
  t.ok(url && !url.endsWith(`:${port}/`), `the console took another port (${url})`);
});
