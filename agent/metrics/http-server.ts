import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BwcError, describeError } from '../../common/errors.js';

export interface MetricsSource {
  render(): string;
  readonly contentType: string;
}

export interface Health {
  ok: boolean;
  detail: object;
}

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); the bound port is returned */
  port: number;
  metrics: MetricsSource;
  health: () => Health;
}

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The agent's optional HTTP endpoint: `/healthz` (200 when healthy, 503 when
 * not, JSON either way, for a supervisor or a container probe) and
 * `/metrics` (Prometheus text). Read-only: anything else is 404 or 405.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new BwcError('BAD_HTTP_PORT', `metrics endpoint: port must be an integer in [0, 65535], got ${String(opts.port)}`);
  }
  const server = createServer((req, res) => handle(req, res, opts));
  // A scraper that keeps its connection open must not hold close() up.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new BwcError('HTTP_LISTEN', `metrics endpoint: cannot listen on ${opts.host}:${opts.port}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function handle(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions): void {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/healthz' && path !== '/metrics') return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /healthz or /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  const head = req.method === 'HEAD';
  if (path === '/healthz') {
    let health: Health;
    try {
      health = opts.health();
    } catch (err) {
      // A failing probe is itself unhealthy, never a crashed agent.
      health = { ok: false, detail: { error: describeError(err) } };
    }
    return send(res, health.ok ? 200 : 503, 'application/json', JSON.stringify({ ok: health.ok, detail: health.detail }) + '\n', head);
  }
  let text: string;
  try {
    text = opts.metrics.render();
  } catch (err) {
    return send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${describeError(err)}\n`, head);
  }
  send(res, 200, opts.metrics.contentType, text, head);
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(headOnly ? undefined : body);
}
