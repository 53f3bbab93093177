import t from 'tap';
import jpeg from 'jpeg-js';
import { FramePainter } from '../../sim/media/frame-painter.js';
import { JpegEncoder } from '../../sim/media/jpeg-encoder.js';

const T = Date.UTC(2026, 10, 25, 2, 12, 30, 200);

function pixel(img: { data: Uint8Array; width: number }, x: number, y: number): [number, number, number] {
  const p = (y * img.width + x) * 4;
  return [img.data[p]!, img.data[p + 1]!, img.data[p + 2]!];
}

t.test('a frame decodes, with text drawn on a coloured background', async (t) => {
  const painter = new FramePainter();
  const content = { deviceId: 'BWC-0001', timeMs: T, index: 42, fix: { timeMs: T, lat: 30.04, lon: 121.15, mode: 3 as const } };
  const img = jpeg.decode(painter.paintJpeg(content, 60), { useTArray: true });
  t.equal(img.width, 320);
  t.equal(img.height, 240);
  const lines = FramePainter.lines(content);
  t.same(lines, ['BWC-0001', '2026-11-25', '02:12:30.200 UTC', 'FRAME 42', 'LAT 30.040000', 'LON 121.150000']);
  const box = painter.textBox(lines.length);
  let bright = 0, dark = 0;
  for (let y = box.y; y < box.y + box.h; y++) {
    for (let x = box.x; x < box.x + box.w; x++) {
      const [r, g, b] = pixel(img, x, y);
      if (r > 180 && g > 180 && b > 180) bright++;
      else if (r < 60 && g < 60 && b < 60) dark++;
    }
  }
  t.ok(bright > 500, `text strokes in the box: ${bright} bright pixels`);
  t.ok(dark > bright, `on a dark box: ${dark} dark pixels`);
  // Below the box: the background, neither black nor white, and saturated.
  const [r, g, b] = pixel(img, 160, 230);
  t.ok(Math.max(r, g, b) - Math.min(r, g, b) > 40, `background is coloured: ${r},${g},${b}`);
});

t.test('the picture changes with time and with the device', async (t) => {
  const painter = new FramePainter();
  const a = jpeg.decode(painter.paintJpeg({ deviceId: 'BWC-0001', timeMs: T, index: 1 }), { useTArray: true });
  const b = jpeg.decode(painter.paintJpeg({ deviceId: 'BWC-0001', timeMs: T + 20_000, index: 1 }), { useTArray: true });
  const c = jpeg.decode(painter.paintJpeg({ deviceId: 'BWC-0777', timeMs: T, index: 1 }), { useTArray: true });
  const diff = (p: typeof a, q: typeof a, x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
      const [r1, g1, b1] = pixel(p, x, y), [r2, g2, b2] = pixel(q, x, y);
      if (Math.abs(r1 - r2) + Math.abs(g1 - g2) + Math.abs(b1 - b2) > 60) n++;
    }
    return n;
  };
  t.ok(diff(a, b, 0, 150, 320, 240) > 5000, 'background colour moves with time');
  t.ok(diff(a, c, 8, 8, 312, 30) > 50, 'the device id line differs');
  t.equal(diff(a, c, 0, 150, 320, 240), 0, 'the same time gives the same background');
});

t.test('unknown characters show as a box, lower case as upper case', async (t) => {
  const painter = new FramePainter();
  const upper = painter.paintRgba({ deviceId: 'ABC', timeMs: T, index: 0 });
  const copyUpper = Buffer.from(upper);
  const lower = painter.paintRgba({ deviceId: 'abc', timeMs: T, index: 0 });
  t.ok(copyUpper.equals(lower), 'abc is drawn as ABC');
  const odd = Buffer.from(painter.paintRgba({ deviceId: 'A#C', timeMs: T, index: 0 }));
  t.notOk(odd.equals(copyUpper), 'a missing glyph is visible');
});

t.test('the kept encoder gives what jpeg-js gives, picture after picture, at any quality', async (t) => {
  const painter = new FramePainter();
  const encoder = new JpegEncoder(40);
  for (const [i, quality] of [40, 40, 75, 40, 90].entries()) {
    const rgba = Buffer.from(painter.paintRgba({ deviceId: 'BWC-0001', timeMs: T + i * 700, index: i }));
    const ours = encoder.encode(rgba, painter.width, painter.height, quality);
    const theirs = jpeg.encode({ data: rgba, width: painter.width, height: painter.height }, quality).data;
    t.ok(Buffer.isBuffer(ours), 'a Buffer');
    t.ok(ours.equals(theirs), `picture ${i} at quality ${quality}: the same ${theirs.length} bytes`);
  }
});
