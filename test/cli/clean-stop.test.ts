import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentCli, consoleCli } from '../helpers/paths.js';
import { commandLine, descendants, waitGone } from '../helpers/process-tree.js';
import type { TapTest } from '../helpers/tap-test.js';
import mqtt from 'mqtt';
import { encodeMessage } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';

/**
 * Every long-running command stops on SIGTERM and SIGINT, leaving no process
 * behind, and a SIGKILL of the command takes its helpers (socat) with it.
 * The commands promise to be gone within 5 s of a signal; that figure is a
 * promise to people, so here the deadline is generous (a loaded machine
 * must not fail the test) and the time taken is reported.
 */
const BROKER = 'mqtt://127.0.0.1:1883';
const EXIT_DEADLINE_MS = 30_000;

interface Started {
  child: ChildProcess;
  output: () => string;
}

function start(cli: string, args: string[]): Started {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

async function stopAndCheck(t: TapTest, s: Started, signal: NodeJS.Signals, minHelpers: number): Promise<string> {
  const helpers = descendants(s.child.pid!);
  t.ok(helpers.length >= minHelpers, `${helpers.length} helper process(es) running before ${signal}: ${helpers.map(commandLine).join('; ')}`);
  const t0 = Date.now();
  s.child.kill(signal);
  const result = await Promise.race([exited(s.child), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_DEADLINE_MS))]);
  const ms = Date.now() - t0;
  if (result === 'timeout') {
    s.child.kill('SIGKILL');
    t.fail(`still running ${EXIT_DEADLINE_MS} ms after ${signal}`);
  } else {
    // A clean stop exits 0; one that runs over its grace is cut short by design (status 1, saying so).
    const forced = result.code === 1 && /did not stop within \d+ ms of SIG/.test(s.output());
    t.ok(result.code === 0 || forced, `stopped after ${signal} in ${ms} ms (${forced ? 'cut short at the end of its grace' : `status ${result.code}`})`);
  }
  const left = await waitGone(helpers, 10_000);
  t.same(left.map(commandLine), [], `no helper process outlives the command after ${signal}`);
  return s.output();
}

t.test('sim stops on SIGINT and SIGTERM with its socat processes', async (t) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const s = start(agentCli, ['sim', '--cameras', '2', '--json']);
    await waitFor('the ports', () => s.output().split('\n').filter((l) => l.startsWith('{')).length >= 2);
    await stopAndCheck(t, s, signal, 2);
  }
});

t.test('demo stops on SIGTERM and SIGINT: agent first, no warnings, no process left', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-stop-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const s = start(agentCli, ['demo', '--broker', BROKER, '--cameras', '2', '--data-dir', dir]);
    await waitFor('a fix on the board', () => /BWC-0002 +\d{6} +\d/.test(s.output()));
    const out = await stopAndCheck(t, s, signal, 2);
    t.match(out, /demo finished/, 'the final report is printed');
    t.notMatch(out.slice(out.indexOf('demo finished')), /GNSS PORT DOWN/, 'the cameras were still there when the agent stopped');
    const warnings = readFileSync(join(dir, 'agent.log'), 'utf8').split('\n').filter((l) => /"level":(40|50|60)/.test(l));
    t.same(warnings, [], 'a clean stop logs no warnings');
  }
});

t.test('a SIGKILL of the demo takes its socat processes with it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = start(agentCli, ['demo', '--broker', BROKER, '--cameras', '2', '--data-dir', dir]);
  await waitFor('a fix on the board', () => /BWC-0002 +\d{6} +\d/.test(s.output()));
  const helpers = descendants(s.child.pid!);
  t.ok(helpers.length >= 2, `${helpers.length} helper processes: ${helpers.map(commandLine).join('; ')}`);
  s.child.kill('SIGKILL');
  await exited(s.child);
  const left = await waitGone(helpers, 10_000);
  t.same(left.map(commandLine), [], 'no helper process outlives a SIGKILL of the demo');
});

t.test('bwc-console watch stops on SIGTERM and SIGINT', async (t) => {
  // A retained agent state of a probe: watch prints it once it is connected and subscribed,
  // which tells the test the command is running (its signal handlers come first).
  const probe = `clean-stop-probe-${process.pid}`;
  const topic = new Topics().agent(probe, 'state');
  const pub = await mqtt.connectAsync(BROKER, { reconnectPeriod: 0 });
  t.teardown(async () => {
    await pub.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
    await pub.endAsync();
  });
  await pub.publishAsync(topic, Buffer.from(encodeMessage('AgentState', { deviceId: probe, seq: 1, session: 1, sentMs: Date.now() }, { online: true, session: 1 })), { qos: 1, retain: true });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const s = start(consoleCli, ['watch', '--broker', BROKER, '--jsonl']);
    await waitFor('watch to print the probe', () => s.output().includes(probe));
    await stopAndCheck(t, s, signal, 0);
  }
});
