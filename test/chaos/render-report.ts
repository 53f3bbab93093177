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
  const s = load('security');
  if (s) {
    out.push(`\n### Security\n\n` + table(['check', 'result'], (s.checks as R[]).map((x) => [x.check, x.result])));
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
