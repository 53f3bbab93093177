import { SeqStateFile } from '../../agent/buffer/seq-state-file.js';
import Database from 'better-sqlite3';
import type { PersistentRecorder } from './persistent-recorder.js';

type FleetRecorder = Pick<PersistentRecorder, 'records' | 'fixes'>;

/**
 * Produced against delivered, by device and sequence number.
 *
 * "Produced" is read from the agent's own buffer file, not from what
 * arrived: `devices.last_seq` is the highest seq the agent ever handed out
 * for a device (every kind: fixes, status, events, replies), and seqs are
 * dense from 1. "Delivered" is what a subscriber on the broker received.
 * A seq handed out and never received is a lost message; a seq received
 * twice is a duplicate, and it must carry the same content both times
 * (that is what makes it detectable and harmless).
 */
export interface DeviceDelivery {
  device: string;
  produced: number;
  delivered: number;
  lost: number;
  lostSeqs: number[];
  duplicates: number;
  /** Duplicates whose content differed from the first copy: never acceptable. */
  inconsistentDuplicates: number;
  /** Rows still in the buffer when counted (not yet acknowledged by the broker). */
  stillBuffered: number;
  fixesDelivered: number;
}

export interface BufferCounts {
  lastSeq: Map<string, number>;
  rows: Map<string, number>;
  /** First seq of each device's epoch (the seq state file beside the database). */
  firstSeq: Map<string, number>;
}

/** Reads the buffer file (also while the agent has it open: WAL readers do not block the writer). */
export function readBufferCounts(dbFile: string): BufferCounts {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const lastSeq = new Map<string, number>();
    for (const r of db.prepare('SELECT id, last_seq AS s FROM devices').all() as Array<{ id: string; s: number }>) lastSeq.set(r.id, r.s);
    const rows = new Map<string, number>();
    for (const r of db.prepare('SELECT d.id AS id, count(*) AS n FROM messages m JOIN devices d ON d.num = m.device GROUP BY d.id').all() as Array<{ id: string; n: number }>) rows.set(r.id, r.n);
    const firstSeq = new Map<string, number>();
    for (const [id, e] of Object.entries(new SeqStateFile(`${dbFile}-seq.json`).read()?.epochs ?? {})) firstSeq.set(id, e.firstSeq);
    return { lastSeq, rows, firstSeq };
  } finally {
    db.close();
  }
}

/** A fingerprint of one received message, to compare duplicates by content. */
function contentKey(r: Record<string, unknown>): string {
  const { receivedMs: _r, historical: _h, retainedCopy: _c, ...rest } = r;
  // A status is re-sent with a fresh header time; the rest must match.
  return JSON.stringify(rest);
}

export function accountDelivery(recorder: FleetRecorder, counts: BufferCounts, devices: string[], firstSeq = new Map<string, number>()): DeviceDelivery[] {
  const byDevice = new Map<string, Map<number, string>>();
  const dup = new Map<string, { n: number; bad: number }>();
  const fixes = new Map<string, Set<number>>();
  for (const r of recorder.records) {
    if (r.device === undefined || r.seq === undefined || r.retainedCopy) continue;
    const d = r.device;
    let seen = byDevice.get(d);
    if (!seen) byDevice.set(d, (seen = new Map()));
    const key = contentKey(r);
    const prev = seen.get(r.seq);
    if (prev === undefined) seen.set(r.seq, key);
    else {
      const x = dup.get(d) ?? { n: 0, bad: 0 };
      x.n++;
      if (prev !== key && r.type === 'fix') x.bad++;
      dup.set(d, x);
    }
    if (r.type === 'fix') {
      let s = fixes.get(d);
      if (!s) fixes.set(d, (s = new Set()));
      s.add(r.seq);
    }
  }
  return devices.map((device) => {
    const produced = counts.lastSeq.get(device) ?? 0;
    const seen = byDevice.get(device) ?? new Map<number, string>();
    // The epoch's first seq; without a record of it, the lowest received (never a loop from 1 to a floor of billions).
    const from = firstSeq.get(device) ?? counts.firstSeq.get(device) ?? (seen.size > 0 ? Math.min(...seen.keys()) : 1);
    const lostSeqs: number[] = [];
    let delivered = 0;
    for (let s = from; s <= produced; s++) {
      if (seen.has(s)) delivered++;
      else lostSeqs.push(s);
    }
    return {
      device,
      produced: produced - from + 1,
      delivered,
      lost: lostSeqs.length,
      lostSeqs: lostSeqs.slice(0, 50),
      duplicates: dup.get(device)?.n ?? 0,
      inconsistentDuplicates: dup.get(device)?.bad ?? 0,
      stillBuffered: counts.rows.get(device) ?? 0,
      fixesDelivered: fixes.get(device)?.size ?? 0,
    };
  });
}

/** Waits until every seq the buffer has handed out has reached the subscriber (or the time is up). */
export async function waitForDrain(recorder: FleetRecorder, dbFile: string, devices: string[], timeoutMs: number): Promise<DeviceDelivery[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = accountDelivery(recorder, readBufferCounts(dbFile), devices);
    if (d.every((x) => x.lost === 0 && x.stillBuffered === 0) || Date.now() > deadline) return d;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Sums per-device figures into one row. */
export function totals(rows: DeviceDelivery[]): Omit<DeviceDelivery, 'device' | 'lostSeqs'> {
  const sum = (k: keyof DeviceDelivery) => rows.reduce((a, r) => a + (r[k] as number), 0);
  return {
    produced: sum('produced'),
    delivered: sum('delivered'),
    lost: sum('lost'),
    duplicates: sum('duplicates'),
    inconsistentDuplicates: sum('inconsistentDuplicates'),
    stillBuffered: sum('stillBuffered'),
    fixesDelivered: sum('fixesDelivered'),
  };
}

/**
 * Live reporting figures of one device from what the subscriber got:
 * the longest time between two consecutive live (not historical) fixes
 * received, and the longest gap in fix time between consecutive delivered
 * fixes (a hole in the track itself).
 */
export function liveGaps(recorder: FleetRecorder, device: string, fromMs: number, toMs: number): { maxLiveGapMs: number; maxTrackGapMs: number } {
  const live = recorder.fixes(device).filter((f) => f.historical === false && f.receivedMs >= fromMs && f.receivedMs <= toMs).map((f) => f.receivedMs).sort((a, b) => a - b);
  let maxLiveGapMs = 0;
  for (let i = 1; i < live.length; i++) maxLiveGapMs = Math.max(maxLiveGapMs, live[i]! - live[i - 1]!);
  const times = [...new Set(recorder.fixes(device).map((f) => Date.parse(f.time as string)))].filter((t) => t >= fromMs && t <= toMs).sort((a, b) => a - b);
  let maxTrackGapMs = 0;
  for (let i = 1; i < times.length; i++) maxTrackGapMs = Math.max(maxTrackGapMs, times[i]! - times[i - 1]!);
  return { maxLiveGapMs, maxTrackGapMs };
}

/** The chaos agent's reporting interval (baseConfig: one fix a second whatever the camera does). */
const REPORT_INTERVAL_MS = 1000;

/**
 * Fix times that should have been delivered and were not: the camera emits
 * a fix every period, the agent reports one a second, so any hole longer
 * than `slackMs` in the delivered track must lie inside a window when no
 * agent was reading the port (killed, camera unplugged): `excused`, or
 * inside a stretch when the camera itself put no fix on the line: a
 * simulator starved on a loaded machine skips epochs, and what was never
 * sent cannot be delivered. With the camera's emitted fix times (`emitted`),
 * a hole (a, b) counts only if the camera sent a fix the agent had to report:
 * one at least a reporting interval after a (the agent reports the first
 * fix an interval after the last one) and before b.
 */
export function unexplainedHoles(recorder: FleetRecorder, device: string, fromMs: number, toMs: number, excused: Array<[number, number]>, emitted?: readonly string[], slackMs = 1300): Array<[string, string]> {
  const times = [...new Set(recorder.fixes(device).map((f) => Date.parse(f.time as string)))].filter((t) => t >= fromMs && t <= toMs).sort((a, b) => a - b);
  const sent = emitted?.map((iso) => Date.parse(iso));
  const out: Array<[string, string]> = [];
  for (let i = 1; i < times.length; i++) {
    const a = times[i - 1]!;
    const b = times[i]!;
    if (b - a <= slackMs) continue;
    // The hole (a, b) is explained if a window when nobody read covers it, give or take one reporting interval.
    const ok = excused.some(([s, e]) => s - slackMs <= a + 1000 && e + slackMs >= b - 1000);
    const owed = sent === undefined || sent.some((t) => t >= a + REPORT_INTERVAL_MS - 50 && t < b);
    if (!ok && owed) out.push([new Date(a).toISOString(), new Date(b).toISOString()]);
  }
  return out;
}
