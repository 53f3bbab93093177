import iconv from 'iconv-lite';
import { BwcError } from '../../common/errors.js';

/**
 * Text fields on the camera channel are UTF-8 or GBK: many GA/T 947 cameras
 * keep officer and unit names in GBK. The frame's TEXT_GBK flag says which.
 */
export type TextEncoding = 'utf8' | 'gbk';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeText(s: string, enc: TextEncoding): Buffer {
  if (enc === 'utf8') return Buffer.from(s, 'utf8');
  const out = iconv.encode(s, 'gbk');
  // iconv-lite writes '?' for what GBK cannot hold: refuse rather than send a corrupted name.
  if (iconv.decode(out, 'gbk') !== s) {
    throw new BwcError('CAMERA_BAD_ARGUMENT', `text ${JSON.stringify(s)} cannot be written in GBK; send it as UTF-8`);
  }
  return out;
}

export function decodeText(buf: Buffer, enc: TextEncoding, what: string): string {
  if (enc === 'gbk') {
    // iconv-lite puts U+FFFD where bytes are not GBK: refuse, as for bad UTF-8, rather than pass a garbled name on.
    const text = iconv.decode(buf, 'gbk');
    if (text.includes('\ufffd') && !iconv.encode(text, 'gbk').equals(buf)) throw new BwcError('CAMERA_BAD_PAYLOAD', `${what} is not valid GBK`);
    return text;
  }
  try {
    return strictUtf8.decode(buf);
  } catch (err) {
    throw new BwcError('CAMERA_BAD_PAYLOAD', `${what} is not valid UTF-8`, { cause: err });
  }
}
