/**
 * One live video frame on the console's WebSocket, as the server sends it
 * (console/server/live-relay.ts) and the page reads it (console/web): a binary
 * message of a 4-byte big-endian header length, the JSON header, then the
 * frame's bytes. Plain Uint8Array and DataView, so the browser bundle can
 * take it as it is.
 */
export interface FrameHeader {
  type: 'frame';
  live: string;
  device: string;
  frame: number;
  contentType: string;
  timeMs: number;
  keyframe?: boolean;
  codec?: string;
  ptsUs?: number;
  width?: number;
  height?: number;
  sha256Ok: boolean;
}

/** The binary message for one frame. */
export function encodeFrame(h: FrameHeader, data: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(4 + head.length + data.length);
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  out.set(data, 4 + head.length);
  return out;
}

/** Splits a binary message back into its header and the frame's bytes (a view, not a copy). */
export function decodeFrame(buf: ArrayBuffer): { h: FrameHeader; data: Uint8Array } {
  const len = new DataView(buf).getUint32(0);
  const h = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, len))) as FrameHeader;
  return { h, data: new Uint8Array(buf, 4 + len) };
}
