import t from 'tap';
import { rng, scaled, sleep, writeResult, SEED } from './chaos-kit.js';
import { FleetRig } from './fleet-rig.js';
import { TcpProxy } from './tcp-proxy.js';
import { accountDelivery, liveGaps, readBufferCounts, totals, unexplainedHoles, waitForDrain } from './delivery.js';

/**
 * Broker killed, three ways, one after the other, on one running agent:
 * 1. mosquitto stopped and restarted 20 times at random intervals;
 * 2. a stalled link: the proxy in front of the broker accepts TCP and never
 *    answers (keepalive and connect timeouts are what save the agent);
 * 3. a link that resets every connection at random moments.
 * The cameras never stop: every seq handed out must arrive, duplicates
 * (PUBACKs lost with the link) must carry the same content.
 */
const STOPS = scaled(20, 3);
const STALL_MS = scaled(45_000, 15_000);
const RESET_MS = scaled(90_000, 15_000);

t.test(`broker stopped ${STOPS} times, stalled ${STALL_MS / 1000} s, reset at random for ${RESET_MS / 1000} s`, { timeout: 900_000 }, async (t) => {
  let proxy: TcpProxy | undefined;
  const rig = await FleetRig.start(t, {
    scenario: 'broker-killed',
    cameras: 4,
    rateHz: 5,
    seed: 202,
    brokers: async (b) => {
      proxy = new TcpProxy(b.port);
      await proxy.start();
      return [proxy.url];
    },
  });
  t.teardown(() => proxy!.stop());
  const r = rng(0xb20);
  await rig.liveFromAll(0, 60_000, 'live fixes from every camera');
  const runStart = Date.now();
  const phases: Record<string, { fromMs: number; toMs: number; backToLiveMs?: number }> = {};

  // 1. Stops and restarts at random intervals.
  const outages: Array<{ downMs: number; backToLiveMs: number }> = [];
  const p1 = Date.now();
  for (let i = 0; i < STOPS; i++) {
    await sleep(r.range(1000, 8000));
    await rig.broker.stop(r.chance(0.5) ? 'SIGTERM' : 'SIGINT');
    const down = r.range(500, 6000);
    await sleep(down);
    await rig.broker.restart();
    const back = Date.now();
    await rig.liveFromAll(back, 60_000, `live fixes after restart ${i + 1}`);
    outages.push({ downMs: Math.round(down), backToLiveMs: Math.max(...rig.devices.map((d) => rig.recorder.fixes(d).find((f) => f.historical === false && f.receivedMs > back)!.receivedMs)) - back });
  }
  phases.restarts = { fromMs: p1, toMs: Date.now() };

  // 2. A stalled link.
  await sleep(5000);
  const p2 = Date.now();
  proxy!.stall();
  await sleep(STALL_MS);
  proxy!.resume();
  const stallEnd = Date.now();
  await rig.liveFromAll(stallEnd, 90_000, 'live fixes after the stall');
  phases.stall = { fromMs: p2, toMs: stallEnd, backToLiveMs: Math.max(...rig.devices.map((d) => rig.recorder.fixes(d).find((f) => f.historical === false && f.receivedMs > stallEnd)!.receivedMs)) - stallEnd };

  // 3. Resets at random moments.
  await sleep(5000);
  const p3 = Date.now();
  let resets = 0;
  while (Date.now() - p3 < RESET_MS) {
    await sleep(r.range(300, 5000));
    resets += proxy!.reset();
  }
  phases.resets = { fromMs: p3, toMs: Date.now() };
  await rig.liveFromAll(Date.now(), 60_000, 'live fixes after the resets');
  await sleep(5000);

  const simStoppedAt = Date.now();
  await rig.sim.stop();
  await waitForDrain(rig.recorder, rig.bufferFile, rig.devices, 180_000);
  const rows = accountDelivery(rig.recorder, readBufferCounts(rig.bufferFile), rig.devices);
  await rig.agent.stop();

  const emitted = rig.sim.emitted();
  const perDevice = rig.devices.map((d) => {
    const firstFix = Math.min(...rig.recorder.fixes(d).map((f) => Date.parse(f.time as string)));
    return { device: d, holes: unexplainedHoles(rig.recorder, d, firstFix, simStoppedAt - 1000, [], emitted[d]?.times), ...liveGaps(rig.recorder, d, runStart, simStoppedAt) };
  });
  const births = rig.recorder.records.filter((x) => x.type === 'agent' && x.online === true && !x.retainedCopy).length;
  const sortedBack = outages.map((o) => o.backToLiveMs).sort((a, b) => a - b);
  const result = {
    cameras: 4,
    rateHz: 5,
    brokerStops: outages.length,
    brokerDownMs: { min: Math.min(...outages.map((o) => o.downMs)), max: Math.max(...outages.map((o) => o.downMs)) },
    backToLiveAfterRestartMs: { median: sortedBack[Math.floor(sortedBack.length / 2)], max: sortedBack[sortedBack.length - 1] },
    stallS: STALL_MS / 1000,
    backToLiveAfterStallMs: phases.stall.backToLiveMs,
    resetPhaseS: RESET_MS / 1000,
    connectionsReset: resets,
    proxyConnectionsAccepted: proxy!.accepted,
    agentConnects: births,
    crashes: rig.agent.crashes.length,
    perDevice: rows.map((row) => ({ ...row, ...perDevice.find((p) => p.device === row.device)! })),
    totals: totals(rows),
    maxLiveGapMs: Math.max(...perDevice.map((p) => p.maxLiveGapMs)),
    maxTrackGapMs: Math.max(...perDevice.map((p) => p.maxTrackGapMs)),
    unexplainedHoles: perDevice.reduce((a, p) => a + p.holes.length, 0),
    phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, { from: new Date(v.fromMs).toISOString(), to: new Date(v.toMs).toISOString() }])),
  };
  writeResult('broker-killed', result);
  t.comment(`seed ${SEED}: ${JSON.stringify({ ...result, perDevice: undefined })}`);

  t.equal(rig.agent.crashes.length, 0, 'the agent never exited by itself');
  t.ok(resets > 0, `connections were reset (${resets})`);
  for (const row of rows) {
    t.same(row.lostSeqs, [], `${row.device}: all ${row.produced} seqs of the epoch delivered (${row.duplicates} duplicates)`);
    t.equal(row.inconsistentDuplicates, 0, `${row.device}: every duplicate carries the same content`);
    t.equal(row.stillBuffered, 0, `${row.device}: nothing left in the buffer`);
  }
  // Holes in the track (seconds the camera sent and no fix was made) are reported, with the phase they fell in:
  // a camera port the agent does not read for over ~1 s overflows (the simulator drops epochs as a UART does).
  t.comment(`track holes: ${JSON.stringify(perDevice.map((p) => p.holes))}`);
});
