import t from 'tap';
import { sleep, waitFor, writeResult, SEED } from './chaos-kit.js';
import { FleetRig } from './fleet-rig.js';
import { haversineM } from '../../agent/pipeline/geo.js';
import { FIELD_BOUNDS } from '../../agent/pipeline/fix-filter.js';
import { TELEPORT_TO } from '../../sim/faults/hostile-gnss.js';

/**
 * A receiver that lies with valid checksums, over real ptys, against the
 * running agent (foot profile, 1 Hz):
 * - camera 0: implausible fields (10,000 knots, -99,999 m, 99 satellites,
 *   HDOP 0), then a GGA 5 s late every 15th epoch;
 * - camera 1: teleported to Beijing for 15 s, then back.
 * What reaches the platform: no fix with a field out of the foot bounds;
 * every fix after a lagging GGA has its speed and altitude; each jump
 * announced by a discontinuity event with both positions, published before
 * the first fix of the new place.
 */
type Rec = Record<string, any>;

function longestRun(flags: boolean[]): number {
  let best = 0;
  let run = 0;
  for (const f of flags) best = Math.max(best, (run = f ? run + 1 : 0));
  return best;
}

t.test('hostile GNSS: implausible fields, a lagging GGA, a teleport', { timeout: 300_000 }, async (t) => {
  // Every fix reported (as while recording), so that each one after a lagging GGA is seen.
  const rig = await FleetRig.start(t, { scenario: 'hostile-gnss', cameras: 2, rateHz: 1, seed: 707, config: (base) => ({ ...base, reporting: { movingIntervalS: 1, stationaryIntervalS: 1 } }) });
  const [liar, jumper] = rig.devices as [string, string];
  await rig.liveFromAll(0, 60_000, 'live fixes from both cameras');
  const bounds = FIELD_BOUNDS.foot;

  // Camera 0: implausible fields for 20 s.
  rig.sim.inject(liar, 'implausible', true);
  const implausibleFrom = Date.now();
  await sleep(15_000);
  rig.sim.inject(liar, 'implausible', false);
  const implausibleTo = Date.now();
  // Then a lagging GGA every 15th epoch for 35 s.
  rig.sim.inject(liar, 'lag', true);
  const lagFrom = Date.now();
  await sleep(35_000);
  rig.sim.inject(liar, 'lag', false);
  const lagTo = Date.now();

  // Camera 1: to Beijing until the agent has said so (at least 15 s), and back.
  const jumps = () => rig.recorder.records.filter((r) => r.type === 'event' && r.device === jumper && r.event === 'gnss_discontinuity').length;
  rig.sim.inject(jumper, 'teleport', true);
  const teleportFrom = Date.now();
  await sleep(15_000);
  await waitFor(() => jumps() >= 1, 120_000, 'the discontinuity to Beijing');
  rig.sim.inject(jumper, 'teleport', false);
  const teleportTo = Date.now();
  await waitFor(() => jumps() >= 2, 120_000, 'the discontinuity back');
  await sleep(5000);
  await rig.agent.stop();

  const fixes = (d: string) => rig.recorder.fixes(d) as Rec[];
  const outOfBounds = (f: Rec) =>
    (f.speed !== undefined && f.speed > bounds.maxSpeedMps) || (f.alt !== undefined && (f.alt < bounds.minAltM || f.alt > bounds.maxAltM)) || (f.sats !== undefined && f.sats > bounds.maxSats) || (f.hdop !== undefined && f.hdop < bounds.minHdop);
  const all = [...fixes(liar), ...fixes(jumper)];
  const badPublished = all.filter(outOfBounds);
  const duringImplausible = fixes(liar).filter((f) => f.receivedMs > implausibleFrom + 1500 && f.receivedMs < implausibleTo);
  const duringLag = fixes(liar).filter((f) => !f.historical && f.receivedMs > lagFrom + 1500 && f.receivedMs < lagTo);
  const lagMissingFields = duringLag.filter((f) => f.speed === undefined || f.alt === undefined || f.sats === undefined || f.hdop === undefined);
  const lagTimeBackwards = duringLag.filter((f, i) => i > 0 && Date.parse(f.time) <= Date.parse(duringLag[i - 1]!.time));
  const events = rig.recorder.records.filter((r) => r.type === 'event' && r.device === jumper && r.event === 'gnss_discontinuity') as Rec[];
  const toBeijing = events.find((e) => e.to && haversineM(e.to, TELEPORT_TO) < 1000);
  const inBeijing = fixes(jumper).filter((f) => haversineM(f as { lat: number; lon: number }, TELEPORT_TO) < 1000);
  const firstBeijingSeq = Math.min(...inBeijing.map((f) => f.seq as number));
  const beijingWalked = inBeijing.length > 0 && (!toBeijing || firstBeijingSeq < (toBeijing.seq as number));
  const jumperCounters = (rig.recorder.records.filter((r) => r.type === 'status' && r.device === jumper) as Rec[]).at(-1)?.counters ?? {};
  const liarCounters = (rig.recorder.records.filter((r) => r.type === 'status' && r.device === liar) as Rec[]).at(-1)?.counters ?? {};

  const result = {
    cameras: 2,
    rateHz: 1,
    profile: 'foot',
    bounds,
    implausibleS: Math.round((implausibleTo - implausibleFrom) / 1000),
    fixesDuringImplausible: duringImplausible.length,
    fixesPublishedOutOfBounds: badPublished.length,
    fixesWithImplausibleFieldsInStatus: Number(liarCounters.fixesImplausibleFields ?? 0),
    lagS: Math.round((lagTo - lagFrom) / 1000),
    laggedGgas: Math.floor((lagTo - lagFrom) / 1000 / 15),
    liveFixesDuringLag: duringLag.length,
    liveFixesMissingAFieldDuringLag: lagMissingFields.length,
    fixesGoingBackInTime: lagTimeBackwards.length,
    teleportS: Math.round((teleportTo - teleportFrom) / 1000),
    discontinuityEvents: events.length,
    jumpKm: toBeijing ? Math.round(Number(toBeijing.value) / 1000) : null,
    eventHasBothPositions: Boolean(toBeijing && toBeijing.lat !== undefined && toBeijing.to),
    fixesInBeijingPublished: inBeijing.length,
    beijingPublishedBeforeItsEvent: beijingWalked,
    jumperDrops: jumperCounters,
    teleportDetectedAfterMs: toBeijing ? Date.parse(toBeijing.time) - teleportFrom : null,
    crashes: rig.agent.crashes.length,
  };
  writeResult('hostile-gnss', result);
  t.comment(`seed ${SEED}: ${JSON.stringify(result)}`);
  t.ok(duringImplausible.length >= 1, `fixes kept flowing while the fields were implausible (${duringImplausible.length})`);
  t.equal(badPublished.length, 0, 'no fix published with a field out of the foot bounds');
  t.ok(result.fixesWithImplausibleFieldsInStatus > 0, `counted in status (${result.fixesWithImplausibleFieldsInStatus})`);
  t.ok(duringLag.length >= 3, `live fixes during the lag (${duringLag.length})`);
  // A sentence lost on a loaded line costs its own epoch a field; a lag used to cost every later one.
  t.ok(lagMissingFields.length * 4 <= duringLag.length, `fixes after a lagging GGA keep their fields (${lagMissingFields.length} of ${duringLag.length} short of one)`);
  t.ok(longestRun(duringLag.map((f) => lagMissingFields.includes(f))) < 3, 'never several in a row');
  t.equal(lagTimeBackwards.length, 0, 'no fix went back in time');
  t.ok(toBeijing, 'the jump to Beijing is a discontinuity event');
  t.ok(result.eventHasBothPositions, 'with both positions');
  t.ok(result.jumpKm !== null && result.jumpKm > 1000, `${result.jumpKm} km`);
  t.notOk(beijingWalked, 'no fix in Beijing published before its discontinuity event');
  t.equal(events.length, 2, 'and the way back is one too');
  t.equal(rig.agent.crashes.length, 0, 'the agent never exited by itself');
});
