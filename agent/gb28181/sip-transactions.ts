import { header, headerParam, parseCSeq, type SipRequest, type SipResponse } from './sip-message.js';

/** RFC 3261 §17.1.2.2 timer values. */
export const T1_MS = 500;
export const T2_MS = 4000;
export const TIMER_F_MS = 64 * T1_MS;

export class SipTimeoutError extends Error {
  constructor(readonly method: string, ms: number) {
    super(`no final response to ${method} within ${ms} ms`);
    this.name = 'SipTimeoutError';
  }
}

interface Pending {
  resolve: (r: SipResponse) => void;
  reject: (e: Error) => void;
  timers: NodeJS.Timeout[];
  method: string;
}

/**
 * Non-INVITE client transactions (§17.1.2): over UDP the request is resent
 * at T1, 2·T1, … up to T2 until a response arrives; a provisional response
 * stops the resends; the transaction fails after its timeout (Timer F, or
 * shorter for keepalives). Matched by the top Via branch and CSeq method (§17.1.3).
 */
export class ClientTransactions {
  private readonly pending = new Map<string, Pending>();

  start(req: SipRequest, send: () => void, o: { reliable: boolean; timeoutMs: number }): Promise<SipResponse> {
    const key = txKey(header(req, 'via')!, req.method);
    return new Promise<SipResponse>((resolve, reject) => {
      const p: Pending = { resolve, reject, timers: [], method: req.method };
      this.pending.set(key, p);
      const fail = setTimeout(() => {
        this.finish(key);
        reject(new SipTimeoutError(req.method, o.timeoutMs));
      }, o.timeoutMs);
      p.timers.push(fail);
      if (!o.reliable) {
        let interval = T1_MS;
        const resend = () => {
          if (!this.pending.has(key)) return;
          send();
          interval = Math.min(interval * 2, T2_MS);
          p.timers.push(setTimeout(resend, interval));
        };
        p.timers.push(setTimeout(resend, interval));
      }
    });
  }

  /** A response: true when it belonged to a transaction of ours. */
  onResponse(res: SipResponse): boolean {
    const via = header(res, 'via');
    const cseq = parseCSeq(header(res, 'cseq') ?? '');
    if (!via || !cseq) return false;
    const key = txKey(via, cseq.method);
    const p = this.pending.get(key);
    if (!p) return false;
    if (res.status < 200) {
      // Provisional: stop resending, keep waiting for the final one (its timeout still runs).
      for (const t of p.timers.slice(1)) clearTimeout(t);
      p.timers.length = 1;
      return true;
    }
    this.finish(key);
    p.resolve(res);
    return true;
  }

  cancelAll(why: string): void {
    for (const [key, p] of this.pending) {
      this.finish(key);
      p.reject(new Error(why));
    }
  }

  private finish(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    for (const t of p.timers) clearTimeout(t);
    this.pending.delete(key);
  }
}

function txKey(via: string, method: string): string {
  return `${headerParam(via, 'branch') ?? via}|${method === 'ACK' ? 'INVITE' : method}`;
}

/**
 * Server side (§17.2.2): a retransmitted request gets the response already
 * sent, without handling it twice. Kept for Timer J (64·T1).
 */
export class ServerTransactions {
  private readonly answered = new Map<string, { res: SipResponse | undefined; at: number }>();

  key(req: SipRequest): string {
    return txKey(header(req, 'via') ?? '', req.method) + '|' + (header(req, 'cseq') ?? '');
  }

  /** undefined: a new request; otherwise the earlier response (or null while it is still being handled). */
  seen(req: SipRequest, now = Date.now()): SipResponse | null | undefined {
    for (const [k, v] of this.answered) if (now - v.at > TIMER_F_MS) this.answered.delete(k);
    const hit = this.answered.get(this.key(req));
    if (!hit) {
      this.answered.set(this.key(req), { res: undefined, at: now });
      return undefined;
    }
    return hit.res ?? null;
  }

  remember(req: SipRequest, res: SipResponse): void {
    const k = this.key(req);
    const hit = this.answered.get(k);
    if (hit) hit.res = res;
    else this.answered.set(k, { res, at: Date.now() });
  }
}
