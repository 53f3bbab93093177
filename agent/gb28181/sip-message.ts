/**
 * SIP messages (RFC 3261 §7): parsed from and serialised to bytes. Headers
 * keep their order and repetitions (Via must be echoed as received); names
 * are matched case-insensitively and compact forms are expanded. Bodies stay
 * bytes: GB/T 28181 bodies are GB2312, decoded by manscdp-xml.ts.
 */

export type SipHeaders = Array<[name: string, value: string]>;

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export class SipParseError extends Error {
  constructor(
    message: string,
    /** What was readable of the message: enough to answer 400 when Via, Call-ID and CSeq were. */
    readonly partial?: SipMessage,
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}

const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', u: 'allow-events',
};

function canon(name: string): string {
  const n = name.toLowerCase();
  return COMPACT[n] ?? n;
}

export function header(m: { headers: SipHeaders }, name: string): string | undefined {
  const want = canon(name);
  for (const [n, v] of m.headers) if (canon(n) === want) return v;
  return undefined;
}

export function headers(m: { headers: SipHeaders }, name: string): string[] {
  const want = canon(name);
  return m.headers.filter(([n]) => canon(n) === want).map(([, v]) => v);
}

export function setHeader(m: { headers: SipHeaders }, name: string, value: string): void {
  const want = canon(name);
  const i = m.headers.findIndex(([n]) => canon(n) === want);
  if (i >= 0) m.headers[i] = [name, value];
  else m.headers.push([name, value]);
}

const REQUEST_LINE = /^([A-Za-z]+) (\S+) SIP\/2\.0$/;
const STATUS_LINE = /^SIP\/2\.0 ([1-6][0-9]{2}) ?(.*)$/;
const REQUIRED = ['via', 'from', 'to', 'call-id', 'cseq'];

/**
 * One message from a datagram, or from a stream once sip-stream-framer.ts has
 * cut it out. Throws SipParseError saying what is wrong.
 */
export function parseSip(buf: Buffer): SipMessage {
  let end = buf.indexOf('\r\n\r\n');
  let sep = 4;
  if (end < 0) {
    end = buf.indexOf('\n\n');
    sep = 2;
  }
  if (end < 0) {
    // A message without a body may lack the empty line in a datagram; accept it when it ends a line.
    if (buf.length > 0 && buf[buf.length - 1] === 0x0a) {
      end = buf.length;
      sep = 0;
    } else {
      throw new SipParseError('no end of headers (empty line) found');
    }
  }
  const head = buf.subarray(0, end).toString('utf8');
  const lines = head.split(/\r?\n/);
  const first = lines.shift() ?? '';
  const hdrs: SipHeaders = [];
  // A bad line is reported after the rest is read, so the answer (400) can still be addressed.
  let problem: string | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && hdrs.length > 0) {
      hdrs[hdrs.length - 1]![1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (colon <= 0 || !/^[A-Za-z0-9!%*_+`'~.-]+$/.test(name)) {
      problem ??= `bad header line ${JSON.stringify(line.slice(0, 80))}`;
      continue;
    }
    hdrs.push([name, line.slice(colon + 1).trim()]);
  }
  let msg: SipMessage;
  const req = REQUEST_LINE.exec(first);
  const res = req ? null : STATUS_LINE.exec(first);
  if (req) msg = { kind: 'request', method: req[1]!.toUpperCase(), uri: req[2]!, headers: hdrs, body: Buffer.alloc(0) };
  else if (res) msg = { kind: 'response', status: Number(res[1]), reason: res[2] ?? '', headers: hdrs, body: Buffer.alloc(0) };
  else throw new SipParseError(`bad start line ${JSON.stringify(first.slice(0, 80))}`);

  const rest = buf.subarray(Math.min(buf.length, end + sep));
  const lenText = header(msg, 'content-length');
  if (lenText !== undefined) {
    if (!/^\d+$/.test(lenText)) throw new SipParseError(`bad Content-Length ${JSON.stringify(lenText)}`, msg);
    const len = Number(lenText);
    if (len > rest.length) throw new SipParseError(`Content-Length ${len} but ${rest.length} body bytes`, msg);
    msg.body = Buffer.from(rest.subarray(0, len));
  } else {
    msg.body = Buffer.from(rest);
  }
  if (problem) throw new SipParseError(problem, msg);
  for (const h of REQUIRED) {
    if (header(msg, h) === undefined) throw new SipParseError(`missing ${h} header`, msg);
  }
  const cseq = parseCSeq(header(msg, 'cseq')!);
  if (!cseq) throw new SipParseError(`bad CSeq ${JSON.stringify(header(msg, 'cseq'))}`, msg);
  if (msg.kind === 'request' && cseq.method !== msg.method) throw new SipParseError(`CSeq method ${cseq.method} does not match ${msg.method}`, msg);
  return msg;
}

export function serializeSip(m: SipMessage): Buffer {
  const first = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`;
  const lines = [first];
  for (const [n, v] of m.headers) if (canon(n) !== 'content-length') lines.push(`${n}: ${v}`);
  lines.push(`Content-Length: ${m.body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), m.body]);
}

export function parseCSeq(v: string): { seq: number; method: string } | undefined {
  const m = /^(\d{1,10})\s+([A-Za-z]+)$/.exec(v.trim());
  return m ? { seq: Number(m[1]), method: m[2]!.toUpperCase() } : undefined;
}

/** A header parameter (`;tag=…`, `;branch=…`, `;expires=…`) outside the <…> of a name-addr. */
export function headerParam(value: string, name: string): string | undefined {
  const outside = value.replace(/<[^>]*>/g, '');
  const m = new RegExp(`;\\s*${name}\\s*=\\s*("[^"]*"|[^;,\\s]+)`, 'i').exec(outside);
  return m ? m[1]!.replace(/^"|"$/g, '') : undefined;
}

/** The URI of a name-addr (`"x" <sip:a@b>;tag=1` → `sip:a@b`) or addr-spec. */
export function headerUri(value: string): string {
  const m = /<([^>]*)>/.exec(value);
  return (m ? m[1]! : value.split(';')[0]!).trim();
}

/** The user part of a SIP URI (`sip:3402…@host` → `3402…`). */
export function uriUser(uri: string): string | undefined {
  const m = /^sips?:([^@;>]+)@/i.exec(uri.trim());
  return m ? m[1] : undefined;
}

/** The host and port of a SIP URI. */
export function uriHostPort(uri: string): { host: string; port?: number } | undefined {
  const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/i.exec(uri.trim());
  if (!m) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : undefined };
}
