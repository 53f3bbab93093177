import type { Fix } from '../../protocol/fix.js';
import { Fields } from './fields.js';
import { readDdmmyy, readLatLon, readTime, type DayDate, type LatLon, type TimeOfDay } from './sentences.js';
import { SatelliteTracker } from './satellite-tracker.js';
import type { Epoch } from './types.js';

/**
 * Epoch assembly: sentences in, one Epoch per reporting cycle out.
 *
 * The reference is gpsd (the acceptance check compares with gpsd's fixes),
 * so the decisions follow its NMEA driver (drivers/driver_nmea0183.c) and
 * its reporting rule (gpsd.c):
 * - a cycle starts when a timestamped sentence (GGA, RMC, GNS, GLL, GBS,
 *   PSRFEPE) brings a new time; the merged fix is cleared then;
 * - the sentence type that came last before a new time is learned as the
 *   cycle ender; once one is known, a report is made when it arrives (that is
 *   when this class emits the epoch: no waiting for the next cycle); before
 *   that, every sentence that changes position or mode makes a report;
 * - the date comes only from RMC (status A/D) and ZDA, and GGA/GLL/GNS take
 *   it from them (a cycle before any date has no time, as in gpsd);
 * - the mode rules of each sentence (GGA satellites < 3 is no fix, GSA mode,
 *   RMC status V, GNS mode N, GLL status V, …).
 * Stricter than gpsd, because a bogus fix is worse than a missed one for us:
 * GGA quality 0, RMC/GLL/GNS mode indicator N, a date before 2000, (0,0),
 * and any field that is not a plain number give no fix.
 */

// Bits of what a sentence changed (gpsd's gps_mask_t, the ones used here).
const TIME = 1;
const LATLON = 2;
const MODE = 4;
const ALT = 8;
const SPEED = 16;
const TRACK = 32;
const DOP = 64;
const REPORT = 128;

const KNOTS_TO_MPS = 0.51444444;
const FEET_TO_METERS = 0.3048;

/** Sentence kinds: gpsd's table, reduced to what matters for fixes and cycles. */
interface Kind {
  id: number;
  /** minimum gpsd field count to be decoded at all */
  nf: number;
  /** GLL and ACCURACY may come after the last timestamped sentence of a cycle */
  cont: boolean;
  handler: number;
}

const H_NONE = 0, H_GGA = 1, H_RMC = 2, H_GLL = 3, H_GNS = 4, H_GSA = 5, H_GSV = 6, H_VTG = 7, H_ZDA = 8,
  H_GBS = 9, H_PSRFEPE = 10, H_PGRMZ = 11, H_PMGNST = 12, H_BWC = 13;

const KINDS = new Map<string, Kind>();
let nextId = 1;
function kind(name: string, nf: number, handler: number, cont = false): void {
  KINDS.set(name, { id: nextId++, nf, cont, handler });
}
// Sentences gpsd decodes (the others are ignored and do not touch cycle state).
kind('GGA', 13, H_GGA);
kind('RMC', 8, H_RMC);
kind('GLL', 7, H_GLL, true);
kind('GNS', 13, H_GNS);
kind('GSA', 18, H_GSA);
kind('GSV', 0, H_GSV);
kind('VTG', 5, H_VTG);
kind('ZDA', 4, H_ZDA);
kind('GBS', 7, H_GBS);
kind('GST', 8, H_NONE);
kind('BWC', 12, H_BWC);
kind('ACCURACY', 1, H_NONE, true);
for (const n of ['DBT:7', 'DTM:2', 'HDG:0', 'HDT:1', 'MWD:0', 'MWV:0', 'THS:0', 'TXT:5']) {
  const [name, nf] = n.split(':') as [string, string];
  kind(name, Number(nf), H_NONE);
}
// Proprietary sentences are matched on the whole address.
kind('PSRFEPE', 7, H_PSRFEPE);
kind('PGRMZ', 4, H_PGRMZ);
kind('PMGNST', 8, H_PMGNST);
for (const n of ['PGLOR:2', 'PGRME:7', 'PGRMF:15', 'PGRMM:2', 'PASHR:3', 'PMTK:3', 'PMTK001:3', 'PMTK424:3', 'PMTK705:3',
  'PRHS :2', 'PSTI:2', 'STI:2', 'PTNTA:8', 'PTNTHTM:9', 'OHPR:18']) {
  const [name, nf] = n.split(':') as [string, string];
  kind(name, Number(nf), H_NONE);
}
// gpsd lists these without a decoder: matched first so `PGRMC` is not read as RMC.
const IGNORED = new Set(['PGRMB', 'PGRMC', 'PGRMH', 'PGRMI', 'PGRMO', 'PGRMT', 'PGRMV']);

export interface AssemblerCounters {
  sentences: number;
  /** sentences gpsd would not decode (unknown type, too few fields) */
  ignored: number;
  epochs: number;
  fixes: number;
  /** reports that had a position but were refused by our stricter checks */
  rejected_fix: number;
  /** timestamped sentences older than the cycle under way (a sentence that lagged): ignored */
  stale: number;
}

export interface AssemblerOptions {
  /**
   * YYYY-MM-DD known from elsewhere (a capture's `# Date:` line, the host
   * clock). As in gpsd it sets the century for two-digit RMC years; with
   * `dateForUndated` it also dates GGA/GLL/GNS until RMC or ZDA give a date.
   */
  date?: string;
  dateForUndated?: boolean;
}

interface MergedFix {
  timeMs: number;
  lat: number;
  lon: number;
  mode: number;
  alt: number;
  speed: number;
  track: number;
}

function clearFix(f: MergedFix): void {
  f.timeMs = NaN;
  f.lat = NaN;
  f.lon = NaN;
  f.mode = 0;
  f.alt = NaN;
  f.speed = NaN;
  f.track = NaN;
}

export class EpochAssembler {
  readonly counters: AssemblerCounters = { sentences: 0, ignored: 0, epochs: 0, fixes: 0, rejected_fix: 0, stale: 0 };

  private readonly f = new Fields();
  private readonly tod: TimeOfDay = { h: 0, m: 0, s: 0, ns: 0 };
  private readonly peekTod: TimeOfDay = { h: 0, m: 0, s: 0, ns: 0 };
  /** Time field of the last sentence ignored as stale: a second one agreeing with it means the clock really went back. */
  private staleTime = '';
  /** A time of day has been merged: there is a cycle to be late for. */
  private haveTime = false;
  /** A sentence of the cycle under way was skipped as stale. */
  private skippedInCycle = false;
  private readonly day: DayDate = { year: 0, mon: 0, mday: 0 };
  private readonly pos: LatLon = { lat: NaN, lon: NaN };
  private readonly sats = new SatelliteTracker();

  // gpsd's nmea.date (year 0 = unknown) and sub-seconds.
  private year = 0;
  private mon = 0;
  private mday = 0;
  private hour = 0;
  private min = 0;
  private sec = 0;
  private ns = 0;
  private century = 2000;

  // gpsd's newdata: what the last sentences said.
  private readonly nd: MergedFix = { timeMs: NaN, lat: NaN, lon: NaN, mode: 0, alt: NaN, speed: NaN, track: NaN };
  // gpsd's gpsdata.fix: merged over the cycle, cleared when a cycle starts.
  private readonly fix: MergedFix = { timeMs: NaN, lat: NaN, lon: NaN, mode: 0, alt: NaN, speed: NaN, track: NaN };
  private hdop = NaN;
  /** GGA/GNS "satellites used" of this cycle */
  private satsUsed = NaN;
  /** gpsd's satellites_used (from GSA), for its RMC/GLL 3D rule */
  private gsaUsed = 0;
  private lastReportMode = 0;
  private altInRecentReports = false;
  private altInPreviousReport = false;
  /** our own strictness vetoes for the cycle (GGA quality 0 …) */
  private veto = false;
  /** set by the current sentence; applied after a cycle start has cleared the old one */
  private sentenceVeto = false;
  private sentenceSats = NaN;

  // Cycle detection state (gpsd's nmea.* of the same names).
  private readonly enders = new Uint8Array(nextId + 1);
  private lastTag = 0;
  private cycleContinue = false;
  private thisFrac = NaN;
  private lastFrac = NaN;
  private latchFrac = false;
  private gsxMore = false;
  private reliable = false;
  private lastGgaTalker = 0;
  private lastGgaTime = '';
  private latchMode = false;
  private lastGsaTalker = 0;
  private seenOtherGsa = false;
  private cycleNo = 0;
  /** the cycle ender of the current cycle has been seen */
  private afterEnder = false;

  // The epoch being assembled, emitted when known complete.
  private pendingKey = '';
  private pending: Epoch | undefined;
  private lastEmittedKey = '';

  constructor(opts: AssemblerOptions = {}) {
    if (opts.date !== undefined) {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(opts.date);
      if (m) {
        const y = Number(m[1]);
        this.century = y - (y % 100);
        if (opts.dateForUndated) {
          this.year = y;
          this.mon = Number(m[2]);
          this.mday = Number(m[3]);
        }
      }
    }
  }

  /** One checksum-verified sentence (`$…*hh`); completed epochs are appended to `out`. */
  push(sentence: string, out: Epoch[]): void {
    const f = this.f;
    f.split(sentence);
    this.counters.sentences++;
    const k = this.lookup();
    let mask = 0;
    let thisTag = 0;
    this.latchFrac = false;
    this.gsxMore = false;
    this.sentenceVeto = false;
    this.sentenceSats = NaN;
    if (k !== undefined) {
      if (f.count < k.nf) {
        this.counters.ignored++;
      } else if (this.isStale(k.handler)) {
        // Skipped whole: merged, it would start a cycle in the past and
        // teach the cycle detector a wrong ender, costing the next epochs
        // their fields (gpsd has the same weakness).
        this.counters.stale++;
        this.skippedInCycle = true;
        return;
      } else {
        mask = this.dispatch(k.handler);
        this.cycleContinue = k.cont;
        thisTag = k.id;
      }
    } else {
      this.counters.ignored++;
    }
    const isGsa = k !== undefined && k.handler === H_GSA;
    if (!isGsa) this.lastGsaTalker = 0;
    this.sats.afterSentence(k !== undefined ? k.handler === H_GSA : false, k !== undefined ? k.handler === H_GSV : false);

    if (mask & TIME) this.nd.timeMs = this.resolveTime();

    // The end-of-cycle detector, as gpsd's.
    let clear = false;
    if (this.gsxMore) {
      // more GSV parts to come
    } else if (this.latchFrac) {
      if (Math.abs(this.thisFrac - this.lastFrac) > 0.01) {
        clear = true;
        // A cycle that lost a sentence (skipped as stale) ended early: what came last in it is no ender.
        const learn = !this.skippedInCycle;
        this.skippedInCycle = false;
        if (learn && this.lastTag > 0 && !this.enders[this.lastTag] && !this.cycleContinue) {
          this.enders[this.lastTag] = 1;
          this.reliable = true;
        }
      }
    } else if (this.cycleContinue) {
      this.enders[this.lastTag] = 0;
      this.enders[thisTag] = 1;
      this.reliable = true;
    }
    if ((this.latchFrac || this.cycleContinue) && this.enders[thisTag] && !this.gsxMore) mask |= REPORT;
    if (this.latchFrac) this.lastTag = thisTag;

    // Do not downgrade a 3D fix to 2D on RMC, which has no altitude.
    if (mask & MODE && this.fix.mode === 3 && this.nd.mode !== 1 && this.altInRecentReports) this.nd.mode = 3;

    if (clear) {
      this.emitPending(out);
      this.afterEnder = false;
      this.cycleNo++;
      clearFix(this.fix);
      if (!(mask & DOP)) this.hdop = NaN;
      this.satsUsed = NaN;
      this.veto = false;
    }
    if (this.sentenceVeto) this.veto = true;
    if (!Number.isNaN(this.sentenceSats)) this.satsUsed = this.sentenceSats;
    this.merge(mask);

    // gpsd reports on the cycle ender, on any position/mode change while no
    // ender is known, and on a sentence without a time of its own that comes
    // right after an ender and changes the fix (furuno_gl_ga: the GNGSA after
    // the ender GGA brings mode 3; beidou-bd: GSA after GNS).
    if (mask & REPORT) this.afterEnder = true;
    const afterEnder = !this.latchFrac && this.enders[this.lastTag] === 1 && (mask & (LATLON | MODE | ALT | SPEED | TRACK | DOP)) !== 0;
    if (mask & REPORT || (!this.reliable && mask & (LATLON | MODE)) || afterEnder) {
      this.report(out);
    }
  }

  /**
   * Does this timestamped sentence carry a time of day before the cycle
   * under way (by less than 12 h: more is a midnight wrap)? A lone one is a
   * sentence that lagged; a second in a row with the same time means the
   * receiver's clock went back, and it is taken.
   */
  private isStale(handler: number): boolean {
    const field = handler === H_GGA || handler === H_RMC || handler === H_GNS ? 1 : handler === H_GLL ? 5 : -1;
    if (field < 0 || !this.haveTime || this.f.empty(field)) return false;
    const t = this.peekTod;
    if (!readTime(this.f, field, t)) return false;
    const now = this.hour * 3600 + this.min * 60 + this.sec + this.ns / 1e9;
    const then = t.h * 3600 + t.m * 60 + t.s + t.ns / 1e9;
    const behind = now - then;
    if (behind <= 0.0005 || behind >= 43_200) {
      this.staleTime = '';
      return false;
    }
    const time = this.f.str(field);
    if (time === this.staleTime) {
      this.staleTime = '';
      return false;
    }
    this.staleTime = time;
    return true;
  }

  /** End of input: the epoch in progress is complete. */
  end(out: Epoch[]): void {
    this.emitPending(out);
  }

  private lookup(): Kind | undefined {
    const f = this.f;
    const len = f.length(0);
    if (len === 0) return undefined;
    const s = f.s;
    const a = f.startOf(0);
    if (s.charCodeAt(a) === 0x50 /* P */) {
      const name = f.str(0);
      if (IGNORED.has(name)) return undefined;
      const k = KINDS.get(name);
      if (k !== undefined) return k;
    }
    if (len !== 5) return len === 10 && f.str(0).endsWith('ACCURACY') ? KINDS.get('ACCURACY') : undefined;
    // Three-letter types after a two-letter talker; the common ones without a Map lookup.
    const c2 = s.charCodeAt(a + 2), c3 = s.charCodeAt(a + 3), c4 = s.charCodeAt(a + 4);
    if (c2 === 0x47 && c3 === 0x47 && c4 === 0x41) return K_GGA;
    if (c2 === 0x52 && c3 === 0x4d && c4 === 0x43) return K_RMC;
    if (c2 === 0x47 && c3 === 0x53 && c4 === 0x56) return K_GSV;
    if (c2 === 0x47 && c3 === 0x53 && c4 === 0x41) return K_GSA;
    return KINDS.get(s.slice(a + 2, a + 5));
  }

  private dispatch(h: number): number {
    switch (h) {
      case H_GGA: return this.gga();
      case H_RMC: return this.rmc();
      case H_GLL: return this.gll();
      case H_GNS: return this.gns();
      case H_GSA: return this.gsa();
      case H_GSV: return this.gsv();
      case H_VTG: return this.vtg();
      case H_ZDA: return this.zda();
      case H_GBS: this.registerFrac(1); return 0;
      case H_PSRFEPE: return this.psrfepe();
      case H_PGRMZ: return this.pgrmz();
      case H_PMGNST: return this.pmgnst();
      case H_BWC: return this.bwc();
      default: return 0;
    }
  }

  // ---- time ----

  /** gpsd's merge_hhmmss: sets the time of day; an hour going backwards is a new day. */
  private mergeTime(i: number): boolean {
    const t = this.tod;
    if (!readTime(this.f, i, t)) return false;
    if (t.h < this.hour) this.mday++;
    this.haveTime = true;
    this.hour = t.h;
    this.min = t.m;
    this.sec = t.s;
    this.ns = t.ns;
    return true;
  }

  private registerFrac(i: number): void {
    if (this.f.empty(i)) return;
    this.lastFrac = this.thisFrac;
    this.thisFrac = this.f.num(i);
    this.latchFrac = true;
  }

  private resolveTime(): number {
    if (this.year === 0 && this.mday === 0) return NaN;
    // Date.UTC normalises the day after a midnight wrap (31 + 1 → next month).
    return Date.UTC(this.year, this.mon - 1, this.mday, this.hour, this.min, this.sec) + Math.round(this.ns / 1e6);
  }

  // ---- sentence handlers: gpsd's process*() reduced to what a fix needs ----

  private gga(): number {
    const f = this.f;
    const nd = this.nd;
    let mask = 0;
    const lastLast = this.lastGgaTalker;
    const talker = f.charAt(0, 1);
    this.lastGgaTalker = talker;
    const quality = f.empty(6) ? -1 : f.atoi(6);
    if (quality === 0 && f.empty(1)) {
      // No time at all (Quectel before a fix): gpsd forgets the date and the cycle ender.
      this.forgetDate();
    }
    if (quality <= 0) this.sentenceVeto = true;
    const time = f.str(1);
    if (lastLast !== 0 && lastLast !== talker) this.latchMode = false;
    else this.latchMode = time === this.lastGgaTime;
    if (this.latchMode) {
      nd.mode = 1;
      mask |= MODE;
    } else {
      this.lastGgaTime = time;
    }
    const used = f.atoi(7);
    if (!f.empty(1) && this.mergeTime(1)) {
      this.registerFrac(1);
      if (this.year !== 0) mask |= TIME;
    }
    if (readLatLon(f, 2, this.pos)) {
      nd.lat = this.pos.lat;
      nd.lon = this.pos.lon;
      nd.mode = 2;
      mask |= LATLON;
      if (!f.empty(9)) {
        nd.alt = f.num(9);
        mask |= ALT;
        if (used >= 4) nd.mode = 3;
      }
      if (used < 3) nd.mode = 1;
    } else {
      nd.mode = 1;
    }
    mask |= MODE;
    if (!f.empty(8)) {
      const hdop = f.num(8);
      if (hdop < 99) {
        this.hdop = hdop;
        mask |= DOP;
      }
    }
    if (!f.empty(7)) this.sentenceSats = used;
    return mask;
  }

  private rmc(): number {
    const f = this.f;
    const nd = this.nd;
    let mask = 0;
    const status = f.char(2);
    if (status !== 0x41 && status !== 0x44) {
      nd.mode = 1;
      if (f.empty(1) || f.empty(9)) {
        this.forgetDate();
        mask |= REPORT | TIME;
      }
      return mask | MODE;
    }
    if (!f.empty(1) && f.count > 9 && !f.empty(9)) {
      if (this.mergeTime(1) && readDdmmyy(f, 9, this.century, this.day)) {
        // gpsd's century wrap: a year ending in 99 followed by 00.
        if (this.year % 100 === 99 && this.day.year % 100 === 0) {
          this.century += 100;
          this.day.year += 100;
        }
        this.year = this.day.year;
        this.mon = this.day.mon;
        this.mday = this.day.mday;
        mask |= TIME;
        this.registerFrac(1);
      }
    }
    if (readLatLon(f, 3, this.pos)) {
      nd.lat = this.pos.lat;
      nd.lon = this.pos.lon;
      mask |= LATLON;
      if (this.lastReportMode <= 2) {
        nd.mode = 2;
        mask |= MODE;
      } else if (this.lastReportMode === 3) {
        nd.mode = 3;
        mask |= MODE;
      }
    } else {
      nd.mode = 1;
      mask |= MODE;
    }
    if (!f.empty(7)) {
      nd.speed = f.num(7) * KNOTS_TO_MPS;
      mask |= SPEED;
    }
    if (!f.empty(8)) {
      nd.track = f.num(8);
      mask |= TRACK;
    }
    if (f.count > 12 && f.char(12) === 0x4e /* N: not valid */) this.sentenceVeto = true;
    if (this.gsaUsed > 3) {
      nd.mode = 3;
      mask |= MODE;
    } else if (Number.isFinite(this.fix.alt)) {
      nd.mode = 3;
      mask |= MODE;
    }
    return mask;
  }

  private gll(): number {
    const f = this.f;
    const nd = this.nd;
    let mask = 0;
    if (!f.empty(5) && this.mergeTime(5)) {
      this.registerFrac(5);
      if (this.year !== 0) mask = TIME;
    }
    const valid = f.char(6);
    const faa = f.char(7);
    if (valid === 0x41 && (f.count < 8 || faa !== 0x4e) && readLatLon(f, 1, this.pos)) {
      nd.lat = this.pos.lat;
      nd.lon = this.pos.lon;
      mask |= LATLON;
      if (Number.isFinite(this.fix.alt)) nd.mode = 3;
      else if (this.gsaUsed > 3) nd.mode = 3;
      else if (this.fix.mode < 2 || !this.altInPreviousReport) nd.mode = 2;
    } else {
      nd.mode = 1;
    }
    return mask | MODE;
  }

  private gns(): number {
    const f = this.f;
    const nd = this.nd;
    let mask = 0;
    if (!f.empty(1) && this.mergeTime(1)) {
      this.registerFrac(1);
      if (this.year !== 0) mask = TIME;
    }
    const m = f.char(6);
    if (m === 0 || m === 0x4e) {
      nd.mode = 1;
      return mask | MODE;
    }
    const nav = f.char(13);
    if (nav === 0x55 || nav === 0x56) return mask;
    const used = f.atoi(7);
    if (readLatLon(f, 2, this.pos)) {
      nd.lat = this.pos.lat;
      nd.lon = this.pos.lon;
      mask |= LATLON;
      nd.mode = 2;
      if (!f.empty(9)) {
        const alt = f.num(9);
        if (Number.isFinite(alt)) {
          nd.alt = alt;
          mask |= ALT;
          if (used > 3) nd.mode = 3;
        }
      }
    } else {
      nd.mode = 1;
    }
    if (!f.empty(8)) {
      this.hdop = f.num(8);
      mask |= DOP;
    }
    if (!f.empty(7)) this.sentenceSats = used;
    return mask | MODE;
  }

  private gsa(): number {
    const f = this.f;
    let mask = 0;
    const lastLast = this.lastGsaTalker;
    const talker = f.charAt(0, 1);
    if (!this.latchMode) {
      this.nd.mode = f.atoi(2);
      if (f.char(2) !== 0x45 /* E */) mask = MODE;
      if (f.count <= 19) {
        const hdop = f.num(16);
        if (hdop < 99) {
          this.hdop = hdop;
          mask |= DOP;
        }
      }
      if (this.lastGsaTalker === 0 || (talker === this.lastGsaTalker && talker !== 0x4e)) this.gsaUsed = 0;
      this.lastGsaTalker = talker;
      if (talker !== 0x50 /* P */) this.seenOtherGsa = true;
      for (let i = 3; i <= 14; i++) if (f.atoi(i) > 0) this.gsaUsed++;
      this.sats.gsa(f);
    }
    if (this.seenOtherGsa && talker === 0x50) mask = 0;
    else if (lastLast !== 0x4e && talker === 0x4e) mask = MODE;
    return mask;
  }

  private gsv(): number {
    const f = this.f;
    const count = f.count;
    if (count <= 3) return 0;
    const r = count % 4;
    if (r !== 0 && r !== 1) return 0;
    const total = f.atoi(1);
    const part = f.atoi(2);
    if (part < 1) return 0;
    this.sats.gsv(f, part, total);
    if (part < total) this.gsxMore = true;
    return 0;
  }

  private vtg(): number {
    const f = this.f;
    if (f.empty(1) || f.empty(5)) return 0;
    if (f.count > 9) {
      const m = f.char(9);
      if (m === 0x45 || m === 0x4e) return 0;
    }
    this.nd.track = f.num(1);
    this.nd.speed = f.num(5) * KNOTS_TO_MPS;
    return TRACK | SPEED;
  }

  private zda(): number {
    const f = this.f;
    if (f.empty(1) || f.empty(2) || f.empty(3) || f.empty(4)) return 0;
    if (!this.mergeTime(1)) return 0;
    const year = f.atoi(4);
    const mon = f.atoi(3);
    const mday = f.atoi(2);
    if (year < 1900 || year > 2200 || mon < 1 || mon > 12 || mday < 1 || mday > 31) return 0;
    this.century = year - (year % 100);
    this.year = year;
    this.mon = mon;
    this.mday = mday;
    return TIME;
  }

  private psrfepe(): number {
    const f = this.f;
    let mask = 0;
    if (!f.empty(1) && this.mergeTime(1)) {
      this.registerFrac(1);
      if (this.year !== 0) mask |= TIME;
    }
    if (f.char(2) !== 0x41) return mask;
    if (!f.empty(3)) {
      this.hdop = f.num(3);
      mask |= DOP;
    }
    return mask;
  }

  private pgrmz(): number {
    const f = this.f;
    let mask = 0;
    if (f.char(2) === 0x66 /* f */ && !f.empty(1)) {
      this.nd.alt = f.atoi(1) * FEET_TO_METERS;
      mask |= ALT;
    }
    const m = f.char(3);
    if (m === 0x31) { this.nd.mode = 1; mask |= MODE; }
    else if (m === 0x32) { this.nd.mode = 2; mask |= MODE; }
    else if (m === 0x33) { this.nd.mode = 3; mask |= MODE; }
    return mask;
  }

  private pmgnst(): number {
    const f = this.f;
    const m = f.atoi(2);
    this.nd.mode = f.char(3) === 0x54 && (m === 2 || m === 3) ? m : 1;
    return MODE;
  }

  private bwc(): number {
    if (!this.f.empty(1) && this.mergeTime(1) && this.year !== 0) return TIME;
    return 0;
  }

  private forgetDate(): void {
    this.year = 0;
    this.mon = 0;
    this.mday = 0;
    this.hour = 0;
    this.min = 0;
    this.sec = 0;
    this.ns = 0;
    this.reliable = false;
  }

  // ---- merging and reporting ----

  private merge(mask: number): void {
    const fx = this.fix;
    const nd = this.nd;
    if (mask & TIME) fx.timeMs = nd.timeMs;
    if (mask & LATLON) {
      fx.lat = nd.lat;
      fx.lon = nd.lon;
    }
    if (mask & MODE) fx.mode = nd.mode;
    if (mask & ALT) fx.alt = nd.alt;
    if (mask & SPEED) fx.speed = nd.speed;
    if (mask & TRACK) fx.track = nd.track;
  }

  /** A gpsd TPV report: the merged fix of the cycle so far. */
  private report(out: Epoch[]): void {
    const fx = this.fix;
    this.lastReportMode = fx.mode;
    this.altInPreviousReport = Number.isFinite(fx.alt);
    this.altInRecentReports = this.altInPreviousReport || this.altInRecentReports;
    const timed = Number.isFinite(fx.timeMs);
    const key = timed ? `t${fx.timeMs}` : `c${this.cycleNo}`;
    if (key === this.lastEmittedKey) return; // the epoch already went out
    if (this.pending !== undefined && key !== this.pendingKey) this.emitPending(out);
    const fix = this.makeFix();
    if (this.pending === undefined) {
      this.pending = { gnss: this.sats.summary(fx.mode, this.hdop) };
      if (timed) this.pending.timeMs = fx.timeMs;
      this.pendingKey = key;
    } else {
      this.pending.gnss = this.sats.summary(fx.mode, this.hdop);
    }
    // A later report of the same cycle is more complete; a fix once seen stays.
    if (fix !== undefined) this.pending.fix = fix;
    // Past the cycle ender a fix is final: out it goes, without waiting for
    // the next cycle. A cycle without a fix waits, as a later sentence of the
    // same cycle may still bring one.
    if (this.afterEnder && this.pending.fix !== undefined) this.emitPending(out);
  }

  private makeFix(): Fix | undefined {
    const fx = this.fix;
    if (fx.mode < 2 || !Number.isFinite(fx.timeMs)) return undefined;
    if (!(Math.abs(fx.lat) <= 90 && Math.abs(fx.lon) <= 180)) return undefined;
    if (this.veto || (fx.lat === 0 && fx.lon === 0) || !(fx.timeMs >= MIN_TIME_MS && fx.timeMs < MAX_TIME_MS)) {
      this.counters.rejected_fix++;
      return undefined;
    }
    const fix: Fix = { timeMs: fx.timeMs, lat: fx.lat, lon: fx.lon, mode: fx.mode === 3 ? 3 : 2 };
    if (Number.isFinite(fx.alt)) fix.alt = fx.alt;
    if (fx.speed >= 0 && fx.speed < 1e4) fix.speed = fx.speed;
    if (fx.track >= 0 && fx.track <= 360) fix.course = fx.track === 360 ? 0 : fx.track;
    if (this.hdop >= 0) fix.hdop = this.hdop;
    const used = Number.isFinite(this.satsUsed) ? this.satsUsed : this.gsaUsed;
    if (used > 0 || Number.isFinite(this.satsUsed)) fix.sats = used;
    return fix;
  }

  private emitPending(out: Epoch[]): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    this.lastEmittedKey = this.pendingKey;
    this.counters.epochs++;
    if (p.fix !== undefined) this.counters.fixes++;
    out.push(p);
  }
}

/** Dates before 2000 are GPS week-rollover garbage (1980, 1999-08-22); after 2079 gpsd wraps back. */
const MIN_TIME_MS = Date.UTC(2000, 0, 1);
const MAX_TIME_MS = Date.UTC(2080, 0, 1);

const K_GGA = KINDS.get('GGA')!;
const K_RMC = KINDS.get('RMC')!;
const K_GSV = KINDS.get('GSV')!;
const K_GSA = KINDS.get('GSA')!;
