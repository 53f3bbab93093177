import { parseSip, SipParseError, type SipMessage } from './sip-message.js';

/**
 * SIP over a stream (RFC 3261 §18.3): a message is its headers up to the
 * empty line plus Content-Length bytes of body. CRLF keepalives between
 * messages (RFC 5626) are skipped. A message whose headers cannot be framed
 * breaks the stream: the caller closes the connection.
 */
export class SipStreamFramer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onMessage: (m: SipMessage) => void,
    private readonly onBad: (err: SipParseError) => void,
    private readonly maxBytes = 65_536,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      let skip = 0;
      while (skip < this.buf.length && (this.buf[skip] === 0x0d || this.buf[skip] === 0x0a)) skip++;
      if (skip) this.buf = this.buf.subarray(skip);
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > this.maxBytes) throw new SipParseError(`no end of headers within ${this.maxBytes} bytes`);
        return;
      }
      const head = this.buf.subarray(0, end).toString('utf8');
      const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$/im.exec(head);
      if (!m) throw new SipParseError('a message on a stream needs Content-Length');
      const total = end + 4 + Number(m[1]);
      if (total > this.maxBytes) throw new SipParseError(`message of ${total} bytes is over the ${this.maxBytes} byte limit`);
      if (this.buf.length < total) return;
      const one = this.buf.subarray(0, total);
      this.buf = this.buf.subarray(total);
      try {
        this.onMessage(parseSip(one));
      } catch (err) {
        if (err instanceof SipParseError) this.onBad(err);
        else throw err;
      }
    }
  }
}

