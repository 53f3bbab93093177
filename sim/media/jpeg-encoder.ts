import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface EncoderInstance {
  encode(image: { data: Uint8Array; width: number; height: number }, quality: number): Buffer;
}
type EncoderClass = new (quality: number) => EncoderInstance;

const require = createRequire(import.meta.url);
let encoderClass: EncoderClass | undefined;

/**
 * jpeg-js's `encode()` builds a new encoder for every picture, and building
 * one (its Huffman, category and colour tables) costs about 60 ms here, 15
 * times the encoding of a 320×240 frame itself: 8 simulated cameras
 * recording at 2 fps needed more than a core for it. Its encoder class keeps
 * those tables and re-encodes with them, but the package does not export it;
 * it is taken from the package's own source (BSD-3-Clause, unchanged) and
 * kept, one per painter.
 */
function loadEncoderClass(): EncoderClass {
  if (!encoderClass) {
    const source = readFileSync(require.resolve('jpeg-js/lib/encoder.js'), 'utf8');
    // `module` given so the encoder returns a Buffer, as jpeg-js does under Node.
    encoderClass = new Function('module', 'require', `${source}\nreturn JPEGEncoder;`)({ exports: {} }, require) as EncoderClass;
  }
  return encoderClass;
}

export class JpegEncoder {
  private readonly encoder: EncoderInstance;

  constructor(quality: number) {
    this.encoder = new (loadEncoderClass())(quality);
  }

  /** Baseline JPEG of an RGBA picture, byte for byte what jpeg-js's encode() gives. */
  encode(rgba: Uint8Array, width: number, height: number, quality: number): Buffer {
    return this.encoder.encode({ data: rgba, width, height }, quality);
  }
}
