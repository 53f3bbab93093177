/**
 * A track as columns: what the replay needs of each fix, in typed arrays,
 * and the binary form `GET /api/track?format=columns` sends them in (no node
 * imports here: the page decodes with the same code the server encodes with).
 *
 * ```
 * 4 bytes   "BWT1"
 * u32 LE    length H of the header
 * H bytes   header, UTF-8 JSON: { fromMs, toMs, stops, devices: [{ device, n }] } (as the JSON form, minus the fixes)
 *           zero bytes to a multiple of 8
 * then per device, in the header's order, little-endian:
 *           float64 t[n] (ms since 1970), float64 lat[n], float64 lon[n] (WGS-84 degrees),
 *           float32 acc[n] (m, NaN: no HDOP), float32 speed[n] (m/s, NaN: none)
 * ```
 *
 * 32 bytes a fix against about 60 in JSON, and nothing to parse: the page
 * takes the arrays as views of the body.
 */
export interface TrackColumns {
  device: string;
  t: Float64Array;
  lat: Float64Array;
  lon: Float64Array;
  /** HDOP, NaN where the fix had none. */
  hdop: Float64Array;
  /** m/s, NaN where the fix had none. */
  speed: Float64Array;
}

/** A decoded device of the binary form: acc and speed as sent (float32, NaN: none). */
export interface TrackColumnsView {
  device: string;
  t: Float64Array;
  lat: Float64Array;
  lon: Float64Array;
  acc: Float32Array;
  speed: Float32Array;
}

export const TRACK_COLUMNS_TYPE = 'application/vnd.bwc.track-columns';
const MAGIC = 'BWT1';

export function emptyColumns(device: string, n: number): TrackColumns {
  return { device, t: new Float64Array(n), lat: new Float64Array(n), lon: new Float64Array(n), hdop: new Float64Array(n), speed: new Float64Array(n) };
}

/** Fixes (of one device, as StoredFix has them) as columns. */
export function columnsOf(device: string, fixes: ReadonlyArray<{ timeMs: number; lat: number; lon: number; hdop?: number; speed?: number }>): TrackColumns {
  const c = emptyColumns(device, fixes.length);
  fixes.forEach((f, i) => {
    c.t[i] = f.timeMs;
    c.lat[i] = f.lat;
    c.lon[i] = f.lon;
    c.hdop[i] = f.hdop ?? NaN;
    c.speed[i] = f.speed ?? NaN;
  });
  return c;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The binary form; `acc` gives the accuracy radius (m) of an HDOP. */
export function encodeTrackColumns(head: Record<string, unknown>, tracks: TrackColumns[], acc: (hdop: number) => number): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ ...head, devices: tracks.map((c) => ({ device: c.device, n: c.t.length })) }));
  const start = Math.ceil((8 + header.length) / 8) * 8;
  const size = start + tracks.reduce((s, c) => s + c.t.length * 32, 0);
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, header.length, true);
  out.set(header, 8);
  let at = start;
  for (const c of tracks) {
    const n = c.t.length;
    const accs = new Float32Array(n);
    for (let i = 0; i < n; i++) accs[i] = Number.isNaN(c.hdop[i]!) ? NaN : acc(c.hdop[i]!);
    for (const col of [c.t, c.lat, c.lon, accs, Float32Array.from(c.speed)]) {
      if (littleEndian) out.set(new Uint8Array(col.buffer, col.byteOffset, col.byteLength), at);
      else if (col instanceof Float64Array) col.forEach((v, i) => view.setFloat64(at + i * 8, v, true));
      else col.forEach((v, i) => view.setFloat32(at + i * 4, v, true));
      at += col.byteLength;
    }
  }
  return out;
}

/** Reads the binary form: the header's fields and each device's columns (views of `buf` where it can). */
export function decodeTrackColumns<H extends object>(buf: ArrayBuffer): { head: H; tracks: TrackColumnsView[] } {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error('not a track in columns (BWT1)');
  const view = new DataView(buf);
  const len = view.getUint32(4, true);
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as H & { devices: Array<{ device: string; n: number }> };
  let at = Math.ceil((8 + len) / 8) * 8;
  const f64 = (n: number) => {
    const a = littleEndian ? new Float64Array(buf, at, n) : Float64Array.from({ length: n }, (_, i) => view.getFloat64(at + i * 8, true));
    at += n * 8;
    return a;
  };
  const f32 = (n: number) => {
    const a = littleEndian ? new Float32Array(buf, at, n) : Float32Array.from({ length: n }, (_, i) => view.getFloat32(at + i * 4, true));
    at += n * 4;
    return a;
  };
  const tracks = head.devices.map(({ device, n }) => {
    if (at + n * 32 > buf.byteLength) throw new Error(`track in columns cut short (${device})`);
    return { device, t: f64(n), lat: f64(n), lon: f64(n), acc: f32(n), speed: f32(n) };
  });
  return { head, tracks };
}
