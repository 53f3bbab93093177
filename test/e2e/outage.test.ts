import t from 'tap';
import { timeSeqFloor } from '../../agent/buffer/seq-floor.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Simulator } from '../../sim/simulator.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { FleetRecorder } from '../helpers/fleet-recorder.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { loadScaled } from '../helpers/deadline.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The agent core's promise, end to end with real parts: 4 simulated cameras
 * on pseudo-terminals, mosquitto, the agent as a separate process. The broker
 * is stopped for 20 s in the middle and the agent is SIGKILLed and restarted
 * once: every message the agent wrote (fixes, status, events) arrives, by
 * device and sequence number; duplicates are detectable; the backlog comes
 * flagged historical; live fixes flow again once the broker is back.
 */
t.test('nothing is lost across a broker outage and an agent SIGKILL', { timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start(undefined, { persistent: true });
  t.teardown(() => broker.stop());
  const sim = new Simulator({ cameras: 4, transport: 'pty', rateHz: 1, seed: 7, footageDir: join(dir, 'footage'), portDir: join(dir, 'ports'), keepEmittedTimes: true });
  const ports = await sim.start();
  t.teardown(() => sim.stop());

  const configFile = join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    stringify({
      agent: { id: 'e2e-gw', dataDir: join(dir, 'data') },
      log: { level: 'info' },
      mqtt: { brokers: [broker.url], keepaliveS: 5, connectTimeoutMs: 3000, reconnect: { minMs: 200, maxMs: 2000 } },
      devices: ports.map((p) => ({ id: p.device, gnss: p.port, control: p.control })),
      // Report every fix, so the test sees a dense stream.
      reporting: { recordingIntervalS: 1, movingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
      devicePorts: { statusIntervalS: 10, reconnect: { minMs: 200, maxMs: 2000 } },
    }),
  );

  const recorder = await FleetRecorder.start(broker.url, 'bwc/v1', { persistent: true });
  t.teardown(() => recorder.stop());
  const agent = new AgentProcess(configFile);
  const firstStart = Date.now();
  agent.start();
  t.teardown(async () => {
    await agent.kill();
    if (t.passing() === false) t.comment(`agent output:\n${agent.output.slice(-4000)}`);
  });
  const devices = ports.map((p) => p.device);

  await recorder.waitFor(() => devices.every((d) => recorder.fixes(d).length >= 3), loadScaled(60_000), 'live fixes from every camera');
  await sleep(10_000);

  // Broker down for 20 s: the agent keeps reading and buffers.
  await broker.stop('SIGTERM');
  const outageStart = Date.now();
  await sleep(20_000);
  await broker.restart();
  const brokerBack = Date.now();
  await recorder.waitFor(() => recorder.fixes().some((f) => f.historical === true), loadScaled(30_000), 'historical backlog');
  await recorder.waitFor(() => recorder.fixes().some((f) => f.historical === false && f.receivedMs > brokerBack + 2000), loadScaled(30_000), 'live fixes after the outage');

  // Agent SIGKILLed, then restarted on the same buffer.
  await sleep(5_000);
  const killedAt = Date.now();
  t.equal(await agent.kill('SIGKILL'), null, 'the agent was killed, not exited');
  await sleep(2_000);
  agent.start();
  const restarted = Date.now();
  await recorder.waitFor(() => recorder.fixes().some((f) => f.receivedMs > restarted + 3000 && f.historical === false), loadScaled(60_000), 'live fixes after the restart');
  await sleep(10_000);
  const emitted = sim.emitted();
  await sim.stop();
  t.ok(Date.now() - outageStart >= 40_000, 'the run covered the outage and the restart');

  // What the agent read is all on its way: wait until it has all arrived
  // (a loaded machine drains slower), then judge what is there.
  const lostOf = (d: string) => unreadOrDelivered(recorder.fixes(d), emitted[d]!, killedAt);
  const complete = () => devices.every((d) => lostOf(d).length === 0 && (recorder.seqs.report().find((x) => x.device === d)?.missing.length ?? 1) === 0);
  await recorder.waitFor(complete, loadScaled(60_000), 'every fix and sequence number').catch((err: Error) => t.comment(err.message));

  const report = recorder.seqs.report();
  for (const d of devices) {
    const r = report.find((x) => x.device === d);
    t.ok(r, `${d}: messages arrived`);
    if (!r) continue;
    // A fresh data folder: the device's seqs start just above the time floor of the first write.
    const firstReceived = Math.min(...recorder.records.filter((x) => x.device === d && x.seq !== undefined).map((x) => x.receivedMs));
    t.ok(r.lowest !== undefined && r.lowest > timeSeqFloor(firstStart) && r.lowest <= timeSeqFloor(firstReceived) + 1, `${d}: the first message (seq ${r.lowest}, just above the time floor) arrived`);
    t.same(r.missing, [], `${d}: no sequence number missing between ${r.lowest} and ${r.highest} (${r.received} received, ${r.duplicates} duplicates)`);
    const fixes = recorder.fixes(d);
    t.ok(fixes.some((f) => f.historical === true), `${d}: backlog arrived flagged historical`);
    const delivered = new Set(fixes.map((f) => Date.parse(f.time as string)));
    t.same(lostOf(d), [], `${d}: every fix emitted while the agent was reading arrived (${delivered.size} delivered of ${emitted[d]!.fixes} emitted)`);
    const firstAfterRestart = Math.min(...[...delivered].filter((ms) => ms >= killedAt));
    t.comment(`${d}: the restarted agent was reading again ${firstAfterRestart - killedAt} ms after the kill`);
  }
  const states = recorder.records.filter((r) => r.type === 'agent');
  t.ok(states.some((s) => s.online === false), 'the last will "offline" was seen after the SIGKILL');
  t.ok(states.filter((s) => s.online === true).length >= 2, 'a birth on every connect');
});

/**
 * Every fix the camera emitted must arrive, except those sent while no agent
 * was reading the port: before the agent first opened it, and from the
 * SIGKILL until the restarted agent had opened it again. Returns the times
 * missing. (A loaded machine's camera skips seconds: the emitted times are
 * the ones it really sent.)
 */
function unreadOrDelivered(fixes: Array<Record<string, unknown>>, emitted: { times?: string[] }, killedAt: number): string[] {
  const delivered = new Set(fixes.map((f) => Date.parse(f.time as string)));
  if (delivered.size === 0) return ['nothing delivered'];
  const firstDelivered = Math.min(...delivered);
  const firstAfterRestart = Math.min(...[...delivered].filter((ms) => ms >= killedAt));
  return (emitted.times ?? []).filter((iso) => {
    const ms = Date.parse(iso);
    const unread = ms < firstDelivered || (ms >= killedAt - 1000 && ms < firstAfterRestart);
    return !unread && !delivered.has(ms);
  });
}
