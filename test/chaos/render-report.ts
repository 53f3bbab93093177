import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { resultsDir } from './chaos-kit.js';

/**
 * Renders the figures of the last chaos run (test/chaos/results/*.json,
 * written by the scenarios) into docs/RELIABILITY.md, between the markers
 * `<!-- figures -->` and `<!-- /figures -->`; the prose around them is kept.
 * `node dist/test/chaos/render-report.js` (run by `npm run chaos`).
 */
type R = Record<string, any>;
const load = (name: string): R | undefined => {
  const f = join(resultsDir, `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as R) : undefined;
};
const n = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en-US') : x === undefined || x === null ? '—' : String(x));
const table = (head: string[], rows: unknown[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(n).join(' | ')} |`)].join('\n');

function deliveryRows(r: R): unknown[][] {
  return (r.perDevice as R[]).map((d) => [d.device, d.produced, d.delivered, d.lost, d.duplicates, d.inconsistentDuplicates, d.maxLiveGapMs, d.holes?.length ?? 0]);
}
const DELIVERY_HEAD = ['device', 'messages produced (seqs)', 'delivered', 'lost', 'duplicates', 'duplicates differing', 'max live gap (ms)', 'track holes'];

export function render(): string {
  const out: string[] = [];
  const all = readdirSync(resultsDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as R);
  const when = all.map((r) => r.finishedAt as string).sort();
  out.push(`Run finished ${when[when.length - 1] ?? '—'} (scenarios from ${when[0] ?? '—'}), scale ${[...new Set(all.map((r) => r.scale))].join(', ')}, seeds ${[...new Set(all.map((r) => r.seed))].join(', ')}; machine: ${hostname()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`);

  const k = load('agent-killed');
  if (k) {
    out.push(`\n### Agent killed\n\n${k.cameras} cameras at ${k.rateHz} Hz for ${k.durationS} s; ${k.kills} SIGKILLs, ${k.agentStarts} starts, **${k.crashes} crashes**. Cameras emitted ${n(k.fixesEmittedByCameras)} fixes (the agent reports one a second per camera). Live reporting dark after a kill: median ${n(k.darkAfterKillMs?.median)} ms, max ${n(k.darkAfterKillMs?.max)} ms. Holes in the track outside the kill windows: ${k.unexplainedHoles}.\n`);
    out.push(table(DELIVERY_HEAD, deliveryRows(k)));
  }
  const b = load('broker-killed');
  if (b) {
    out.push(`\n### Broker killed\n\n${b.brokerStops} stops of mosquitto (down ${n(b.brokerDownMs?.min)}–${n(b.brokerDownMs?.max)} ms each; live again after a restart: median ${n(b.backToLiveAfterRestartMs?.median)} ms, max ${n(b.backToLiveAfterRestartMs?.max)} ms); a stalled link for ${b.stallS} s (live again ${n(b.backToLiveAfterStallMs)} ms after it cleared); ${n(b.connectionsReset)} connections reset at random over ${b.resetPhaseS} s. The agent connected ${b.agentConnects} times, **${b.crashes} crashes**. Holes in the track: ${b.unexplainedHoles}.\n`);
    out.push(table(DELIVERY_HEAD, deliveryRows(b)));
  }
  const c = load('camera-pulled');
  if (c) {
    out.push(`\n### Camera pulled\n\n${c.cyclesPerCamera} unplug/replug cycles per camera (${c.cameras} cameras at ${c.rateHz} Hz), mid-sentence; fixes made of a cut sentence: **${c.bogusFixes}**; reading again after a replug within ${n(c.readingAgainAfterReplugMaxMs)} ms (max); camera_disconnected events: ${c.disconnectEvents}; holes outside the unplugged windows: ${c.unexplainedHoles}; **${c.crashes} crashes**.\n`);
    out.push(table(DELIVERY_HEAD, deliveryRows(c)));
  }
  const p = load('power-cut');
  if (p) {
    out.push(`\n### Power cut\n\n${p.copies} copies (${p.tornCopies} with the WAL torn back to 1.5 s before the freeze; ${p.tornSkipped} moments where the tear point was unknown because the WAL restarted). Opened with recovery: **${p.openedWithRecovery}**; seq holes: ${p.seqHoles}; messages lost in torn copies: ${n(p.lostRowsInTornCopies)}, spanning at most **${n(p.maxLostSpanMs)} ms** of fixes; lost messages that were not the newest: ${p.lostNotTail}; seqs handed out again after the "reboot": ${p.seqsReused}; **${p.crashes} crashes**.\n`);
  }
  const d = load('disk-full');
  if (d) {
    out.push(`\n### Disk full\n\n` + table(['figure', 'value'], [
      ['buffer cap (maxRows)', d.maxRows],
      ['file system', `${d.fileSystemBytes / 2 ** 20} MiB tmpfs, filled to the last block`],
      ['drops at the cap', JSON.stringify(d.dropsAtCap)],
      ['drops while the disk was full', JSON.stringify(d.dropsWhileFull)],
      ['disk full for / broker up during it', d.fullS === undefined ? '—' : `${d.fullS} s / ${d.brokerUpWhileFullS} s`],
      ['live fixes published from memory while full, per camera', d.liveFixesWhileFull ? Object.values(d.liveFixesWhileFull).join(', ') : '—'],
      ['fixes read while full: delivered / missing, per camera', d.fixesReadWhileFullDelivered ? Object.values(d.fixesReadWhileFullDelivered as Record<string, R>).map((x) => `${x.delivered} / ${x.lostInStretch}`).join(', ') : '—'],
      ['drops in all (metrics)', JSON.stringify(d.dropsTotal)],
      ['seqs produced / delivered / missing', `${n(d.totals?.produced)} / ${n(d.totals?.delivered)} / ${n(d.totals?.lost)}`],
      ['missing seqs accounted as drops', `${d.missingSeqsVsDropped?.missing} of ${d.missingSeqsVsDropped?.dropped} counted`],
      ['SOS alarms pressed / delivered', `${d.sosPressed} / ${d.sosDelivered}`],
      ['agent running while full', d.aliveWhileFull],
      ['crashes', d.crashes],
    ]));
  }
  const cd = load('corrupt-database');
  if (cd) {
    out.push(`\n### Corrupt database\n\n` + table(['damage', 'moved aside, logged', 'reason logged', 'moved again on the next start', 'seqs reused'], (cd.cases as R[]).map((x) => [x.damage, x.movedAsideLogged, String(x.reason).split('\n')[0], x.movedAgainOnNextStart, x.seqsReused])) + `\n\nCrashes: **${cd.crashes}**.`);
  }
  const f = load('fuzz');
  if (f) {
    out.push(`\n### Fuzzing\n\n` + table(['figure', 'value'], [
      ['hostile NMEA lines through a pty', f.nmeaLines],
      ['valid epochs among them / fixes delivered', `${n(f.validEpochs)} / ${n(f.fixesDelivered)}`],
      ['bogus fixes', f.bogusFixes],
      ['mutated camera frames', f.cameraFrames],
      ['mutated signed commands over MQTT / accepted / refused in the audit log', `${n(f.commands)} / ${f.commandsAccepted} / ${n(f.commandsRefusedInAudit)}`],
      ['crashes', f.crashes],
    ]));
  }
  const cf = load('command-flood');
  if (cf) {
    const ph = (x: R | undefined) => `${n(x?.fixesPerS)} fixes/s, p99 ${n(x?.p99Ms)} ms`;
    out.push(`\n### Command flood\n\n${cf.cameras} cameras at 1 Hz; ${cf.phaseS} s quiet, then ${cf.phaseS} s of ${n(cf.ratePerS)} garbage commands/s (random bytes, unsigned, unknown key, forged signature), then ${cf.phaseS} s of ${n(cf.ratePerS)} valid signed commands/s beyond the issuer's budget, from a separate process (the 60 s figure at 1,000 + 1,000/s is \`bench/command-flood.bench.ts\`).\n\n` + table(['figure', 'value'], [
      ['live fixes quiet / garbage flood / signed flood', `${ph(cf.quiet)} / ${ph(cf.garbageFlood)} / ${ph(cf.signedFlood)}`],
      ['commands sent / refused and counted', `${n((cf.garbageFlood?.garbage ?? 0) + (cf.signedFlood?.signed ?? 0))} / ${n(cf.refusedTotal)}`],
      ['refused by reason', Object.entries(cf.refusedByReason ?? {}).map(([k, v]) => `${k.replace('REASON_', '')} ${n(v)}`).join(', ')],
      ['replies to refusals suppressed (rate limited)', cf.repliesSuppressed],
      ['audit entries for the whole run (summaries) / refusals they account for', `${n(cf.auditEntries)} (${n(cf.auditSummaryEntries)}) / ${n(cf.auditedRefusals)}`],
      ['audit chain verifies', cf.auditChainOk],
      ['reconnects / new sessions / offline states while running', `${cf.reconnects} / ${cf.newSessions} / ${cf.offlineStates}`],
      ['valid command accepted after the floods', cf.controlAccepted],
      ['crashes', cf.crashes],
    ]));
  }
  const ar = load('audit-rewrite');
  if (ar) {
    const b = ar.brokenAtStart ?? {};
    out.push(`\n### Audit log rewritten\n\n${n(ar.commands)} signed commands gave ${n(ar.entries)} audit entries; \`bwc-console audit-anchors\` kept ${n(ar.anchorsCollected)} signed anchors. With the agent stopped, each attack below was made and the chain and its head file rebuilt.\n\n` + table(['attack', 'entries left', '`audit verify`', '`audit verify --anchors`', 'first problem named'], (ar.attacks as R[]).map((x) => [x.attack, x.entriesLeft, x.verifyAlone, x.verifyWithAnchors, x.firstProblem])) +
      `\n\nAn entry edited without rebuilding, then the agent started: logged as an error **${b.errorLogged}**, reported on /healthz **${b.reportedOnHealthz}** (${n(b.setAsideEntries)} entries set aside: ${b.problem ?? '—'}), the next anchor announced the restart **${b.anchorAnnouncedRestart}**, the new chain matches the anchors **${b.newChainMatchesAnchors}**. Crashes: **${ar.crashes}**.`);
  }
  const w = load('state-on-the-wire');
  if (w) {
    out.push(`\n### State on the wire\n\n${w.cameras} cameras, keepalive ${w.keepaliveS} s.\n\n` + table(['fault', 'figure'], [
      ['recording transitions (pre-record / recording / off)', `${w.recordingTransitions} transitions, ${w.recordingEvents} events; fixes published twice under two seqs: **${w.fixesPublishedTwice}**`],
      ['Status counters', (w.counters as R[]).map((c) => `${c.device} fixes_in ${c.fixesIn} (≥ ${c.fixesDeliveredUpToStatus} delivered from before it)`).join('; ')],
      ['broker outage', `${n(w.outageMs)} ms, ${w.failedConnectAttempts} failed connect attempts; session ${w.sessionBefore} → **${w.sessionAfter}**`],
      ['backlog statuses', `${w.backlogStatusesOnHist} went to status/hist; retained status behind the newest: **${w.retainedStatusBehindNewest}**; live status seq going back: ${w.liveStatusSeqGoingBack}`],
      ['agent SIGKILLed', `every camera unavailable to a new subscriber from retained data after **${n(w.allUnavailableAfterKillMs)} ms** (limit 1.5 × keepalive = ${n(w.limitMs)} ms); their own retained statuses still said online: ${w.ownStatusStillOnline}`],
      ['data folder wiped', `${(w.seqEpoch as R[]).map((e) => `${e.device} ${n(e.maxSeqBefore)} → ${n(e.firstSeqAfterWipe)}`).join('; ')}; seqs repeated: **${w.seqsRepeated}**`],
      ...(w.officerNameWithOverride !== undefined
        ? [['a camera bound elsewhere with a right-to-left override in the officer\'s name', `published as ${JSON.stringify((w.officerNameWithOverride as R).published)}; logged as an error: **${(w.officerNameWithOverride as R).logged}**`] as [string, string]]
        : []),
      ...(w.allUnavailableAfterSilentLinkDeathMs !== undefined
        ? [['link died silently (no FIN, no RST)', `the broker's will (retained) after **${n(w.allUnavailableAfterSilentLinkDeathMs)} ms** (1.5 × keepalive = ${n(1.5 * Number(w.keepaliveS) * 1000)} ms; limit ${n(w.silentLimitMs)} ms), then a new subscriber saw ${w.silentRetainedUnavailable ?? '?'} of ${w.cameras} cameras unavailable from retained data; available again ${n(w.availableAgainAfterLinkBackMs)} ms after the link came back`] as [string, string]]
        : []),
      ['crashes', w.crashes],
    ]));
  }
  const h = load('hostile-gnss');
  if (h) {
    out.push(`\n### Hostile GNSS\n\n` + table(['figure', 'value'], [
      ['cameras, rate, profile', `${h.cameras} at ${h.rateHz} Hz, ${h.profile}`],
      ['implausible fields (10,000 kn, -99,999 m, 99 satellites, HDOP 0) for', `${h.implausibleS} s: ${h.fixesDuringImplausible} fixes delivered, ${h.fixesWithImplausibleFieldsInStatus} counted with fields dropped`],
      ['fixes published with a field out of bounds', h.fixesPublishedOutOfBounds],
      ['GGA 5 s late every 15th epoch for', `${h.lagS} s (${h.laggedGgas} late GGAs): ${h.liveFixesDuringLag} live fixes, ${h.liveFixesMissingAFieldDuringLag} short of a field, ${h.fixesGoingBackInTime} back in time`],
      ['teleport to Beijing (foot profile) for', `${h.teleportS} s: ${h.discontinuityEvents} discontinuity events (${h.jumpKm} km, both positions: ${h.eventHasBothPositions}); fixes in Beijing published before their event: ${h.beijingPublishedBeforeItsEvent ? 'yes' : 'none'}`],
      ['crashes', h.crashes],
    ]));
  }
  const u = load('unsafe-ids');
  if (u) {
    const row = (k: string) => `${u[k]?.refused} of ${u[k]?.tried}`;
    out.push(`\n### Unsafe identifiers\n\n` + table(['entry point', 'refused (exit 2, message naming it)'], [
      ['device ids in the configuration (`.`, `..`, leading dot, `/`, `+`, `#`, controls, U+0085, space)', row('config')],
      ['agent ids in the configuration', row('agentId')],
      ['`provision --device-id`', row('provisionId')],
      ['`provision --name` (U+0085, U+202E, U+2066…2069, only U+200B, U+FFFD)', row('names')],
      ['refusals without a clear message / files written / binding or configuration changed', `${u.unclearMessages} / ${u.filesWritten} / ${!u.bindingUntouched || !u.configUntouched ? 'yes' : 'no'}`],
    ]));
  }
  const s = load('security');
  if (s) {
    out.push(`\n### Security\n\n` + table(['check', 'result'], (s.checks as R[]).map((x) => [x.check, x.result])));
  }
  const v = load('video-faults');
  if (v) {
    const j = (x: unknown) => (x === undefined ? '—' : JSON.stringify(x).replace(/\|/g, '/'));
    out.push(`\n### Video faults\n\nOne camera with live H.264 (ffmpeg) through the agent to the console; each fault injected once the feed runs.\n\n` + table(['fault', 'outcome'], [
      ['corrupt NAL units (every 12th unit)', j(v.corrupt)],
      ['camera silent mid-GOP', j(v.stopMidGop)],
      ['resolution change mid-stream', j(v.resolutionChange)],
      ['ffmpeg killed', j(v.ffmpegKilled)],
    ]));
  }
  const tr = load('trust');
  if (tr) {
    out.push(`\n### Trust on the wire\n\n` + table(['figure', 'value'], [
      ['forged messages published inside the gateway\'s own topics (fixes + SOS)', tr.forgedPublished],
      ['named forged by watch against the signed checkpoints', tr.forgedNamed],
      ['forged whose genuine message was never sealed (left unsigned, neither accepted)', tr.forgedUndecidedUnsigned],
      ['genuine messages kept under the forged seqs', `${tr.genuineKeptOfForgedSeqs} of ${tr.forgedPublished}`],
      ['checkpoints verified / broken at arrival and verified when the genuine message came / failed', `${n(tr.checkpointsVerified)} / ${n(tr.checkpointsBrokenUntilGenuineArrived)} / ${n(tr.checkpointsFailed)}`],
      ...(tr.perDevice as R[]).map((d) => [`${d.device}: received / authentic / unsigned / duplicates / missing`, `${d.received} / ${d.authentic} / ${d.unsigned} / ${d.duplicates} / ${(d.missing as unknown[]).length}`]),
      ['SIGKILLs of the agent', tr.kills],
      ['publishes of a second gateway outside its grant / refused by the broker (reason 135) / received by anyone', `${tr.roguePublishes} / ${tr.rogueRefusedByBroker} / ${tr.rogueReceived}`],
      ['a console command reached the agent', tr.consoleCommandAnswered],
      ['crashes', tr.crashes],
    ]));
  }
  return out.join('\n');
}

const docFile = join(repoRoot, 'docs', 'RELIABILITY.md');
const doc = readFileSync(docFile, 'utf8');
const start = doc.indexOf('<!-- figures -->');
const end = doc.indexOf('<!-- /figures -->');
if (start < 0 || end < start) throw new Error(`${docFile} has no <!-- figures --> … <!-- /figures --> section`);
writeFileSync(docFile, doc.slice(0, start + '<!-- figures -->'.length) + '\n' + render() + '\n' + doc.slice(end));
console.log(`figures written to ${docFile}`);
