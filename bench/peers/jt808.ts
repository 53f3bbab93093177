import type { Fix } from '../../protocol/fix.js';

/**
 * JT/T 808-2013 location messages, for the size comparison only: the 0x0200
 * location report and the 0x0704 batch upload ("定位数据批量上传"), framed as
 * a terminal sends them over TCP: 0x7E, header, body, XOR check code, 0x7E,
 * with 0x7E/0x7D escaped inside.
 *
 * Header (12 bytes): message id WORD, body attributes WORD (bits 0-9 body
 * length, 10-12 encryption, 13 sub-package), terminal phone BCD[6], serial WORD.
 * 0x0200 basic body (28 bytes): alarm DWORD, status DWORD (bit 1 positioned,
 * bit 2 south, bit 3 west), latitude and longitude DWORD (|deg| × 1e6),
 * altitude WORD (m), speed WORD (0.1 km/h), direction WORD (0-359°),
 * time BCD[6] YYMMDDhhmmss in GMT+8. No additional items (the figure quoted
 * for JT/T 808, 30 bytes a fix in 0x0704, is these 28 bytes plus the item length).
 * 0x0704 body: item count WORD, type BYTE (0 normal, 1 blind-area backfill),
 * then per item a length WORD and a 0x0200 body. A body holds at most 1023
 * bytes (10-bit length), so 60 fixes take two messages.
 *
 * What JT/T 808 keeps is coarser than a TrackBatch: 1e-6°, whole metres,
 * 0.1 km/h, whole degrees, whole seconds; no HDOP, no satellites, no sequence
 * per fix.
 */

const MAX_BODY = 1023;

export function locationBody(fix: Fix): Uint8Array {
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  let status = 1 << 1; // positioned
  if (fix.lat < 0) status |= 1 << 2;
  if (fix.lon < 0) status |= 1 << 3;
  v.setUint32(0, 0); // alarm flags
  v.setUint32(4, status);
  v.setUint32(8, Math.round(Math.abs(fix.lat) * 1e6));
  v.setUint32(12, Math.round(Math.abs(fix.lon) * 1e6));
  v.setUint16(16, Math.max(0, Math.min(0xffff, Math.round(fix.alt ?? 0))));
  v.setUint16(18, Math.min(0xffff, Math.round((fix.speed ?? 0) * 36))); // 0.1 km/h
  v.setUint16(20, Math.round(fix.course ?? 0) % 360);
  b.set(bcdTime(fix.timeMs), 22);
  return b;
}

/** One framed 0x0200 message for one fix. */
export function encode0200(fix: Fix, phone: string, serial: number): Uint8Array {
  return frame(0x0200, phone, serial, locationBody(fix));
}

/** 0x0704 messages for the fixes (as many as the 1023-byte body limit needs). */
export function encode0704(fixes: Fix[], phone: string, serial: number, backfill: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const perMessage = Math.floor((MAX_BODY - 3) / (2 + 28));
  for (let i = 0; i < fixes.length; i += perMessage) {
    const part = fixes.slice(i, i + perMessage);
    const body = new Uint8Array(3 + part.length * 30);
    const v = new DataView(body.buffer);
    v.setUint16(0, part.length);
    body[2] = backfill ? 1 : 0;
    part.forEach((f, k) => {
      v.setUint16(3 + k * 30, 28);
      body.set(locationBody(f), 5 + k * 30);
    });
    out.push(frame(0x0704, phone, serial + out.length, body));
  }
  return out;
}

function frame(msgId: number, phone: string, serial: number, body: Uint8Array): Uint8Array {
  const raw = new Uint8Array(12 + body.length + 1);
  const v = new DataView(raw.buffer);
  v.setUint16(0, msgId);
  v.setUint16(2, body.length & 0x3ff);
  raw.set(bcd(phone.padStart(12, '0').slice(-12)), 4);
  v.setUint16(10, serial & 0xffff);
  raw.set(body, 12);
  let check = 0;
  for (let i = 0; i < raw.length - 1; i++) check ^= raw[i]!;
  raw[raw.length - 1] = check;
  const out: number[] = [0x7e];
  for (const byte of raw) {
    if (byte === 0x7e) out.push(0x7d, 0x02);
    else if (byte === 0x7d) out.push(0x7d, 0x01);
    else out.push(byte);
  }
  out.push(0x7e);
  return Uint8Array.from(out);
}

function bcd(digits: string): Uint8Array {
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (Number(digits[2 * i]) << 4) | Number(digits[2 * i + 1]);
  return out;
}

function bcdTime(timeMs: number): Uint8Array {
  const d = new Date(timeMs + 8 * 3600_000); // GMT+8, as the standard says
  const two = (n: number) => String(n).padStart(2, '0');
  return bcd(two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours()) + two(d.getUTCMinutes()) + two(d.getUTCSeconds()));
}
