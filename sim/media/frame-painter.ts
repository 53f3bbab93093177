import type { Fix } from '../../protocol/fix.js';
import { GLYPH_H, GLYPH_W, glyph } from './bitmap-font.js';
import { JpegEncoder } from './jpeg-encoder.js';

/**
 * Paints what a simulated camera "sees": a background whose colour drifts
 * with time (so consecutive frames differ and a viewer sees motion), with a
 * text box holding the device id, the UTC time, the frame number and, when
 * known, the position. Pure JS (jpeg-js), no native canvas.
 */
export interface FrameContent {
  deviceId: string;
  timeMs: number;
  index: number;
  fix?: Fix;
}

export interface PainterOptions {
  width?: number;
  height?: number;
  /** pixels per font dot */
  scale?: number;
}

export const DEFAULT_QUALITY = 40;

export class FramePainter {
  readonly width: number;
  readonly height: number;
  private readonly scale: number;
  private readonly rgba: Buffer;
  private readonly jpeg = new JpegEncoder(DEFAULT_QUALITY);

  constructor(opts: PainterOptions = {}) {
    this.width = opts.width ?? 320;
    this.height = opts.height ?? 240;
    this.scale = opts.scale ?? 2;
    this.rgba = Buffer.alloc(this.width * this.height * 4);
  }

  /** Lines of text drawn on the frame (exported so tests know what to expect). */
  static lines(c: FrameContent): string[] {
    const iso = new Date(c.timeMs).toISOString(); // 2026-11-25T02:12:30.200Z
    const lines = [c.deviceId, iso.slice(0, 10), `${iso.slice(11, 23)} UTC`, `FRAME ${c.index}`];
    if (c.fix) lines.push(`LAT ${c.fix.lat.toFixed(6)}`, `LON ${c.fix.lon.toFixed(6)}`);
    return lines;
  }

  /** The text box: where the text is drawn, for tests that inspect pixels. */
  textBox(lineCount: number): { x: number; y: number; w: number; h: number } {
    const lineH = (GLYPH_H + 2) * this.scale;
    return { x: 8, y: 8, w: this.width - 16, h: lineCount * lineH + 2 * this.scale };
  }

  paintRgba(c: FrameContent): Buffer {
    const { width, height, rgba } = this;
    // Hue turns once a minute: the same second always gives the same colour.
    const [r, g, b] = hueToRgb(((c.timeMs / 60_000) % 1) * 360);
    for (let y = 0; y < height; y++) {
      // A vertical gradient keeps the picture from being flat.
      const shade = 0.55 + 0.45 * (y / height);
      const rr = Math.round(r * shade), gg = Math.round(g * shade), bb = Math.round(b * shade);
      let p = y * width * 4;
      for (let x = 0; x < width; x++, p += 4) {
        rgba[p] = rr;
        rgba[p + 1] = gg;
        rgba[p + 2] = bb;
        rgba[p + 3] = 255;
      }
    }
    const lines = FramePainter.lines(c);
    const box = this.textBox(lines.length);
    this.fill(box.x, box.y, box.w, box.h, 0, 0, 0);
    const lineH = (GLYPH_H + 2) * this.scale;
    lines.forEach((line, i) => this.text(line, box.x + 2 * this.scale, box.y + this.scale * 2 + i * lineH, 255, 255, 255));
    return rgba;
  }

  /** A baseline JPEG of the frame. Quality 1..100; low by default to stay fast. */
  paintJpeg(c: FrameContent, quality = DEFAULT_QUALITY): Buffer {
    const data = this.paintRgba(c);
    return this.jpeg.encode(data, this.width, this.height, quality);
  }

  private fill(x0: number, y0: number, w: number, h: number, r: number, g: number, b: number): void {
    const x1 = Math.min(this.width, x0 + w), y1 = Math.min(this.height, y0 + h);
    for (let y = Math.max(0, y0); y < y1; y++) {
      let p = (y * this.width + Math.max(0, x0)) * 4;
      for (let x = Math.max(0, x0); x < x1; x++, p += 4) {
        this.rgba[p] = r;
        this.rgba[p + 1] = g;
        this.rgba[p + 2] = b;
      }
    }
  }

  private text(s: string, x: number, y: number, r: number, g: number, b: number): void {
    const s1 = this.scale;
    for (const ch of s) {
      if (x + GLYPH_W * s1 > this.width) break;
      const rows = glyph(ch);
      for (let gy = 0; gy < GLYPH_H; gy++) {
        const bits = rows[gy]!;
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (bits & (1 << (GLYPH_W - 1 - gx))) this.fill(x + gx * s1, y + gy * s1, s1, s1, r, g, b);
        }
      }
      x += (GLYPH_W + 1) * s1;
    }
  }
}

function hueToRgb(h: number): [number, number, number] {
  // HSV with s=0.6, v=0.85: saturated enough to see, dark enough for white text to stand out elsewhere.
  const s = 0.6, v = 0.85;
  const c = v * s, x = c * (1 - Math.abs(((h / 60) % 2) - 1)), m = v - c;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}
