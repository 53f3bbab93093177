import type { Logger } from 'pino';
import { header, headerParam, parseCSeq, type SipHeaders, type SipRequest, type SipResponse } from './sip-message.js';
import { newBranch, newCallId, newTag } from './sip-ids.js';
import { digestAuthorization, parseChallenge } from './digest-auth.js';
import { ClientTransactions, ServerTransactions, TIMER_F_MS } from './sip-transactions.js';
import type { Peer, SipTransport } from './sip-transport.js';
import type { SipParseError } from './sip-message.js';

export const USER_AGENT = 'bwc-agent';

export interface OutRequest {
  method: string;
  /** Request-URI; the server's URI when left out. */
  uri?: string;
  /** To header value without tag; the server's URI when left out. */
  to?: string;
  toTag?: string;
  /** Local tag (in a dialog: the dialog's); a new one when left out. */
  fromTag?: string;
  callId?: string;
  /** Sequence number; 1 for a new Call-ID when left out. */
  cseq?: number;
  headers?: SipHeaders;
  body?: Buffer;
  contentType?: string;
  timeoutMs?: number;
  /** Answer a 401/407 with the device credentials (once). */
  authenticate?: boolean;
}

export interface SentRequest {
  response: SipResponse;
  callId: string;
  fromTag: string;
  /** The CSeq number of the request that got the response (a challenge adds one). */
  cseq: number;
}

export type RequestHandler = (req: SipRequest, from: Peer) => void;

/**
 * The device's SIP user agent: builds requests with the headers RFC 3261
 * §8.1.1 asks for, runs their client transactions (with digest answers to
 * challenges), hands incoming requests to the handler once (retransmissions
 * get the same answer again), and answers malformed messages with 400.
 */
export class SipEndpoint {
  private readonly client = new ClientTransactions();
  private readonly server = new ServerTransactions();
  private handler: RequestHandler = () => {};
  private nc = 0;

  constructor(
    readonly transport: SipTransport,
    readonly o: { deviceId: string; domain: string; serverId: string; password?: string; log: Logger },
  ) {
    transport.on('message', (m, from: Peer) => {
      if (m.kind === 'response') {
        if (!this.client.onResponse(m)) o.log.debug({ status: m.status, cseq: header(m, 'cseq') }, 'SIP response outside any transaction: ignored');
      } else this.onRequest(m, from);
    });
    transport.on('bad', (err: SipParseError, from: Peer, raw: Buffer) => this.onBad(err, from, raw));
  }

  get serverUri(): string {
    return `sip:${this.o.serverId}@${this.o.domain}`;
  }

  get localUri(): string {
    return `sip:${this.o.deviceId}@${this.o.domain}`;
  }

  get contact(): string {
    return `<sip:${this.o.deviceId}@${hostForUri(this.transport.advertisedHost)}:${this.transport.localPort}>`;
  }

  onRequestHandler(h: RequestHandler): void {
    this.handler = h;
  }

  async request(r: OutRequest): Promise<SentRequest> {
    const callId = r.callId ?? newCallId(this.transport.advertisedHost);
    const fromTag = r.fromTag ?? newTag();
    let cseq = r.cseq ?? 1;
    let auth: [string, string] | undefined;
    for (let attempt = 0; ; attempt++) {
      const req = this.build(r, callId, fromTag, cseq, auth);
      const response = await this.send(req, r.timeoutMs ?? TIMER_F_MS);
      const challenged = response.status === 401 || response.status === 407;
      if (!challenged || !r.authenticate || attempt > 0 || this.o.password === undefined) return { response, callId, fromTag, cseq };
      const challenge = parseChallenge(header(response, response.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? '');
      if (!challenge) return { response, callId, fromTag, cseq };
      const value = digestAuthorization(challenge, { username: this.o.deviceId, password: this.o.password, method: r.method, uri: req.uri, nc: ++this.nc });
      auth = [response.status === 401 ? 'Authorization' : 'Proxy-Authorization', value];
      cseq++;
    }
  }

  private build(r: OutRequest, callId: string, fromTag: string, cseq: number, auth?: [string, string]): SipRequest {
    const t = this.transport;
    const hs: SipHeaders = [
      ['Via', `SIP/2.0/${t.proto} ${hostForUri(t.advertisedHost)}:${t.localPort};rport;branch=${newBranch()}`],
      ['From', `<${this.localUri}>;tag=${fromTag}`],
      ['To', `<${r.to ?? this.serverUri}>${r.toTag ? `;tag=${r.toTag}` : ''}`],
      ['Call-ID', callId],
      ['CSeq', `${cseq} ${r.method}`],
      ['Max-Forwards', '70'],
      ['User-Agent', USER_AGENT],
      ...(r.headers ?? []),
    ];
    if (auth) hs.push(auth);
    if (r.body && r.body.length) hs.push(['Content-Type', r.contentType ?? 'Application/MANSCDP+xml']);
    return { kind: 'request', method: r.method, uri: r.uri ?? this.serverUri, headers: hs, body: r.body ?? Buffer.alloc(0) };
  }

  private send(req: SipRequest, timeoutMs: number): Promise<SipResponse> {
    const out = () => {
      this.transport.send(req).catch((err: Error) => this.o.log.warn({ err: err.message, method: req.method }, 'SIP send failed'));
    };
    const p = this.client.start(req, out, { reliable: this.transport.proto === 'TCP', timeoutMs });
    out();
    return p;
  }

  private onRequest(req: SipRequest, from: Peer): void {
    if (req.method === 'ACK') {
      this.handler(req, from);
      return;
    }
    const earlier = this.server.seen(req);
    if (earlier) {
      void this.transport.send(earlier, from).catch(() => {});
      return;
    }
    if (earlier === null) return; // still being handled
    try {
      this.handler(req, from);
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, method: req.method }, 'SIP request handling failed');
      this.reply(req, from, 500, 'Server Internal Error');
    }
  }

  /**
   * Answers a request: Via, From, Call-ID and CSeq copied (§8.2.6.2), a To
   * tag added when the request had none. Returns the To tag used.
   */
  reply(req: SipRequest, from: Peer, status: number, reason: string, o: { headers?: SipHeaders; body?: Buffer; contentType?: string; toTag?: string } = {}): string {
    const to = header(req, 'to') ?? '';
    let toTag = headerParam(to, 'tag');
    const hs: SipHeaders = req.headers.filter(([n]) => /^(via|v)$/i.test(n)).map(([n, v]) => [n, v]);
    if (!toTag && status > 100) toTag = o.toTag ?? newTag();
    hs.push(['From', header(req, 'from') ?? ''], ['To', toTag && !headerParam(to, 'tag') ? `${to};tag=${toTag}` : to]);
    hs.push(['Call-ID', header(req, 'call-id') ?? ''], ['CSeq', header(req, 'cseq') ?? ''], ['User-Agent', USER_AGENT]);
    hs.push(...(o.headers ?? []));
    if (o.body && o.body.length) hs.push(['Content-Type', o.contentType ?? 'Application/MANSCDP+xml']);
    const res: SipResponse = { kind: 'response', status, reason, headers: hs, body: o.body ?? Buffer.alloc(0) };
    this.server.remember(req, res);
    this.transport.send(res, from).catch((err: Error) => this.o.log.warn({ err: err.message, status }, 'SIP response not sent'));
    return toTag ?? '';
  }

  /** A message that cannot be parsed: 400 when enough of a request was readable to answer it, a log line always. */
  private onBad(err: SipParseError, from: Peer, raw: Buffer): void {
    const p = err.partial;
    this.o.log.warn({ from: `${from.host}:${from.port}`, reason: err.message, bytes: raw.length }, 'malformed SIP message');
    if (p?.kind === 'request' && p.method !== 'ACK' && header(p, 'via') && header(p, 'call-id') && parseCSeq(header(p, 'cseq') ?? '')) {
      this.reply(p, from, 400, 'Bad Request', { headers: [['Warning', `399 ${this.o.deviceId} "${err.message.replace(/"/g, "'")}"`]] });
    }
  }

  close(): void {
    this.client.cancelAll('SIP endpoint closed');
  }
}

function hostForUri(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
