import t from 'tap';
import { rng, scaled, sleep, step, waitFor, writeResult, SEED } from './chaos-kit.js';
import { FleetRig } from './fleet-rig.js';
import { accountDelivery, liveGaps, readBufferCounts, totals, unexplainedHoles, waitForDrain } from './delivery.js';
import { YUYAO } from '../../sim/gnss/patrol.js';
import { haversineM } from '../../agent/pipeline/geo.js';

/**
 * Camera pulled: every camera unplugged and replugged 10 times at random,
 * each time in the middle of a sentence (the simulator writes part of an
 * epoch, then both ports vanish). The agent notices, reconnects to the same
 * path, and goes on: no seq lost, no hole in the track outside the time the
 * camera was out, no fix made of the cut sentence, no crash.
 */
const CAMERAS = 4;
const CYCLES = scaled(10, 2);
/** An unplug or replug takes well under a second; past this it hangs. */
const STEP_MS = 60_000;

t.test(`${CYCLES} unplug/replug cycles per camera, ${CAMERAS} cameras at 5 Hz`, { timeout: 900_000 }, async (t) => {
  const rig = await FleetRig.start(t, { scenario: 'camera-pulled', cameras: CAMERAS, rateHz: 5, seed: 303 });
  await rig.liveFromAll(0, 60_000, 'live fixes from every camera');
  const runStart = Date.now();
  const windows = new Map<string, Array<{ outAt: number; backAt: number }>>();

  await Promise.all(rig.devices.map(async (d, i) => {
    const r = rng(0xc00 + i);
    const list: Array<{ outAt: number; backAt: number }> = [];
    windows.set(d, list);
    for (let k = 0; k < CYCLES; k++) {
      await sleep(r.range(2500, 7000));
      const outAt = Date.now();
      await step(`unplug ${k + 1} of ${d}`, STEP_MS, rig.sim.unplug(d));
      await sleep(r.range(500, 4000));
      await step(`replug ${k + 1} of ${d}`, STEP_MS, rig.sim.replug(d));
      list.push({ outAt, backAt: Date.now() });
    }
  }));
  await sleep(5000);
  // A replug on a loaded machine can take the agent longer than those 5 s to
  // read again: keep the cameras running until every camera's fixes are back
  // after its last replug (or the load-scaled deadline passes, which the
  // check below then reports), so the check judges the agent, not the clock.
  const backAfterLast = () => rig.devices.every((d) => {
    const last = windows.get(d)!.at(-1)?.backAt ?? runStart;
    return rig.recorder.fixes(d).some((f) => Date.parse(f.time as string) >= last);
  });
  await waitFor(backAfterLast, 60_000, 'fixes from every camera after its last replug').catch((err: Error) => t.comment(err.message));
  const simStoppedAt = Date.now();
  await step('the simulator\'s stop', STEP_MS, rig.sim.stop());
  await waitForDrain(rig.recorder, rig.bufferFile, rig.devices, 120_000);
  const rows = accountDelivery(rig.recorder, readBufferCounts(rig.bufferFile), rig.devices);
  await rig.agent.stop();

  const emitted = rig.sim.emitted();
  const perDevice = rig.devices.map((d) => {
    const fixTimes = rig.recorder.fixes(d).map((f) => Date.parse(f.time as string));
    const firstFix = Math.min(...fixTimes);
    const cycles = windows.get(d)!;
    const excused: Array<[number, number]> = cycles.map((w) => {
      const back = fixTimes.filter((ms) => ms >= w.backAt);
      return [w.outAt - 1000, back.length ? Math.min(...back) : simStoppedAt];
    });
    const readingAgainMs = cycles.map((w) => {
      const back = fixTimes.filter((ms) => ms >= w.backAt);
      return back.length ? Math.min(...back) - w.backAt : Number.NaN;
    });
    // A fix made of a cut sentence would be off the receiver's 200 ms epoch grid or off the patrol area.
    const bogus = rig.recorder.fixes(d).filter((f) => {
      const ms = Date.parse(f.time as string);
      return ms % 200 !== 0 || haversineM({ lat: f.lat as number, lon: f.lon as number }, { lat: YUYAO.lat, lon: YUYAO.lon }) > 20_000;
    }).length;
    const events = rig.recorder.records.filter((x) => x.type === 'event' && x.device === d);
    return {
      device: d,
      cycles: cycles.length,
      holes: unexplainedHoles(rig.recorder, d, firstFix, simStoppedAt - 1000, excused, emitted[d]?.times),
      bogus,
      disconnectEvents: events.filter((e) => e.event === 'camera_disconnected').length,
      connectEvents: events.filter((e) => e.event === 'camera_connected').length,
      readingAgainMaxMs: Math.max(...readingAgainMs.filter(Number.isFinite)),
      notBackAfter: readingAgainMs.filter((x) => !Number.isFinite(x)).length,
      ...liveGaps(rig.recorder, d, runStart, simStoppedAt),
    };
  });
  const result = {
    cameras: CAMERAS,
    rateHz: 5,
    cyclesPerCamera: CYCLES,
    crashes: rig.agent.crashes.length,
    perDevice: rows.map((row) => ({ ...row, ...perDevice.find((p) => p.device === row.device)! })),
    totals: totals(rows),
    bogusFixes: perDevice.reduce((a, p) => a + p.bogus, 0),
    readingAgainAfterReplugMaxMs: Math.max(...perDevice.map((p) => p.readingAgainMaxMs)),
    unexplainedHoles: perDevice.reduce((a, p) => a + p.holes.length, 0),
    disconnectEvents: perDevice.reduce((a, p) => a + p.disconnectEvents, 0),
  };
  writeResult('camera-pulled', result);
  t.comment(`seed ${SEED}: ${JSON.stringify({ ...result, perDevice: undefined })}`);

  t.equal(rig.agent.crashes.length, 0, 'the agent never exited by itself');
  for (const row of rows) {
    t.same(row.lostSeqs, [], `${row.device}: all ${row.produced} seqs of the epoch delivered`);
    t.equal(row.inconsistentDuplicates, 0, `${row.device}: duplicates carry the same content`);
  }
  for (const p of perDevice) {
    t.same(p.holes, [], `${p.device}: no hole in the track outside the ${p.cycles} times it was out`);
    t.equal(p.bogus, 0, `${p.device}: no fix made of a cut sentence`);
    t.equal(p.notBackAfter, 0, `${p.device}: fixes came back after every replug`);
    t.ok(p.disconnectEvents > 0, `${p.device}: the pull was reported (${p.disconnectEvents} camera_disconnected events)`);
  }
});
