import type { Fix } from '../../protocol/fix.js';
import { CONSTELLATIONS, pickUsed, Sky, type Constellation, type SkySatellite } from './sky.js';

export interface NmeaWriterOptions {
  rateHz?: 1 | 5 | 10;
  /** Seeds the simulated sky (satellites in view). */
  seed?: number;
  /** BeiDou talker: 'BD' (NMEA 4.10 / most Chinese chips) or 'GB' (u-blox, SiRF). */
  beidouTalker?: 'BD' | 'GB';
  /** ZDA every this many seconds (default 5); 0 never. */
  zdaEverySec?: number;
  /** Geoid separation written in GGA, metres (Yuyao: about 10 m). */
  geoidSepM?: number;
}

const KNOTS_PER_MPS = 3600 / 1852;
/** NMEA 4.10 GSA system ids and GSV talkers. */
const SYSTEM_ID: Record<Constellation, number> = { GPS: 1, GLONASS: 2, BeiDou: 4 };
/** NMEA 4.10 GSV signal id of each constellation's civil L1/B1 signal. */
const SIGNAL_ID: Record<Constellation, number> = { GPS: 1, GLONASS: 1, BeiDou: 1 };

/** `$body*hh` with the XOR checksum in upper-case hex (no line end). */
export function nmeaSentence(body: string): string {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return `$${body}*${x.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Writes what a multi-GNSS receiver (GPS + GLONASS + BeiDou, NMEA 4.10, as
 * the AT6558R and Quectel chips in Chinese cameras) sends each epoch, in the
 * order such chips send it: RMC, VTG, ZDA (now and then), GGA, one GSA per
 * constellation with its system id, and the GSV sky view once a second.
 * Without a fix (a tunnel) the same sentences go out with status V, quality 0
 * and empty fields, as real receivers do.
 */
export class NmeaWriter {
  readonly rateHz: 1 | 5 | 10;
  private readonly sky: Sky;
  private readonly bdTalker: 'BD' | 'GB';
  private readonly zdaEveryMs: number;
  private readonly geoidSep: number;
  private lastZdaMs = -Infinity;

  constructor(opts: NmeaWriterOptions = {}) {
    this.rateHz = opts.rateHz ?? 1;
    this.sky = new Sky(opts.seed ?? 1);
    this.bdTalker = opts.beidouTalker ?? 'BD';
    this.zdaEveryMs = (opts.zdaEverySec ?? 5) * 1000;
    this.geoidSep = opts.geoidSepM ?? 10.2;
  }

  /** The sentences of one epoch at `timeMs` (the receiver's clock), each without CRLF. */
  epoch(timeMs: number, fix: Fix | undefined): string[] {
    const d = new Date(timeMs);
    const hhmmss = `${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
    const ddmmyy = `${p2(d.getUTCDate())}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCFullYear() % 100)}`;
    const out: string[] = [];
    const sky = this.sky.at(timeMs);

    if (fix) {
      const [lat, ns] = formatLat(fix.lat);
      const [lon, ew] = formatLon(fix.lon);
      const knots = fix.speed !== undefined ? (fix.speed * KNOTS_PER_MPS).toFixed(3) : '';
      const course = fix.course !== undefined ? fix.course.toFixed(2) : '';
      out.push(nmeaSentence(`GNRMC,${hhmmss},A,${lat},${ns},${lon},${ew},${knots},${course},${ddmmyy},,,A,V`));
      const kmh = fix.speed !== undefined ? (fix.speed * 3.6).toFixed(3) : '';
      out.push(nmeaSentence(`GNVTG,${course},T,,M,${knots},N,${kmh},K,A`));
      if (this.zdaDue(timeMs)) out.push(this.zda(hhmmss, d));
      const sats = fix.sats !== undefined ? p2(fix.sats) : '';
      const hdop = fix.hdop !== undefined ? fix.hdop.toFixed(1) : '';
      const alt = fix.mode === 3 && fix.alt !== undefined ? fix.alt.toFixed(1) : '';
      const altUnit = alt ? 'M' : '';
      out.push(nmeaSentence(`GNGGA,${hhmmss},${lat},${ns},${lon},${ew},1,${sats},${hdop},${alt},${altUnit},${this.geoidSep.toFixed(1)},M,,`));
      const used = pickUsed(sky, fix.sats ?? 0);
      // PDOP and VDOP derived from HDOP as a typical open-sky geometry gives them.
      const h = fix.hdop ?? 1;
      const dops = `${(h * 1.6).toFixed(1)},${h.toFixed(1)},${(h * 1.3).toFixed(1)}`;
      for (const c of CONSTELLATIONS) out.push(gsa(fix.mode, used.get(c)!, dops, SYSTEM_ID[c]));
    } else {
      // Time (and date) stay known in a tunnel: the receiver keeps its clock.
      out.push(nmeaSentence(`GNRMC,${hhmmss},V,,,,,,,${ddmmyy},,,N,V`));
      out.push(nmeaSentence('GNVTG,,,,,,,,,N'));
      if (this.zdaDue(timeMs)) out.push(this.zda(hhmmss, d));
      out.push(nmeaSentence(`GNGGA,${hhmmss},,,,,0,00,25.5,,,,,,`));
      for (const c of CONSTELLATIONS) out.push(gsa(1, [], '25.5,25.5,25.5', SYSTEM_ID[c]));
    }
    // The sky view changes slowly: once a second, on the whole second, is what chips do at 5 and 10 Hz.
    if (d.getUTCMilliseconds() < 1000 / this.rateHz) {
      const visible = fix ? sky : sky.map((s) => ({ ...s, snr: undefined }));
      for (const c of CONSTELLATIONS) out.push(...gsv(this.talker(c), visible.filter((s) => s.constellation === c), SIGNAL_ID[c]));
    }
    return out;
  }

  /** The whole epoch as bytes on the wire: sentences ended by CRLF. */
  epochText(timeMs: number, fix: Fix | undefined): string {
    return this.epoch(timeMs, fix).map((s) => s + '\r\n').join('');
  }

  private talker(c: Constellation): string {
    return c === 'GPS' ? 'GP' : c === 'GLONASS' ? 'GL' : this.bdTalker;
  }

  private zdaDue(timeMs: number): boolean {
    if (this.zdaEveryMs <= 0 || timeMs - this.lastZdaMs < this.zdaEveryMs) return false;
    this.lastZdaMs = timeMs;
    return true;
  }

  private zda(hhmmss: string, d: Date): string {
    return nmeaSentence(`GNZDA,${hhmmss},${p2(d.getUTCDate())},${p2(d.getUTCMonth() + 1)},${d.getUTCFullYear()},00,00`);
  }
}

function gsa(mode: number, prns: number[], dops: string, systemId: number): string {
  const ids = Array.from({ length: 12 }, (_, i) => (prns[i] !== undefined ? p2(prns[i]!) : ''));
  return nmeaSentence(`GNGSA,A,${mode},${ids.join(',')},${dops},${systemId}`);
}

/** GSV: four satellites a sentence, with the NMEA 4.10 signal id last. An empty sky still gets one sentence. */
function gsv(talker: string, sats: SkySatellite[], signalId: number): string[] {
  const total = Math.max(1, Math.ceil(sats.length / 4));
  const out: string[] = [];
  for (let k = 0; k < total; k++) {
    const group = sats.slice(k * 4, k * 4 + 4).map((s) => `${p2(s.prn)},${p2(s.elevation)},${String(s.azimuth).padStart(3, '0')},${s.snr !== undefined ? p2(s.snr) : ''}`);
    out.push(nmeaSentence(`${talker}GSV,${total},${k + 1},${p2(sats.length)}${group.map((g) => ',' + g).join('')},${signalId}`));
  }
  return out;
}

/** ddmm.mmmmm: 5 decimals of a minute is 1.9 cm, what good receivers print. */
function formatLat(lat: number): [string, string] {
  const a = Math.abs(lat);
  let deg = Math.floor(a);
  let min = Number(((a - deg) * 60).toFixed(5));
  if (min >= 60) {
    deg++;
    min -= 60;
  }
  return [`${p2(deg)}${min.toFixed(5).padStart(8, '0')}`, lat < 0 ? 'S' : 'N'];
}

function formatLon(lon: number): [string, string] {
  const a = Math.abs(lon);
  let deg = Math.floor(a);
  let min = Number(((a - deg) * 60).toFixed(5));
  if (min >= 60) {
    deg++;
    min -= 60;
  }
  return [`${String(deg).padStart(3, '0')}${min.toFixed(5).padStart(8, '0')}`, lon < 0 ? 'W' : 'E'];
}

function p2(n: number): string {
  return String(n).padStart(2, '0');
}
