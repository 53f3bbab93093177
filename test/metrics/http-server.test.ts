import t from 'tap';
import { request, Agent } from 'node:http';
import { startHttpServer } from '../../agent/metrics/http-server.js';
import { MetricsRegistry } from '../../agent/metrics/registry.js';
import { isBwcError } from '../../common/errors.js';
import { parseProm } from './prom-parse.js';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One real HTTP request to the server on loopback. */
function get(port: number, path: string, method = 'GET', agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function fixture() {
  const metrics = new MetricsRegistry();
  const fixesIn = metrics.counter({ name: 'bwc_fixes_in_total', help: 'Fixes in.', labelNames: ['device'] });
  const drops = metrics.counter({ name: 'bwc_fixes_dropped_total', help: 'Fixes dropped, by reason.', labelNames: ['device', 'reason'] });
  const state = { ok: true, detail: { broker: 'mqtt://127.0.0.1:1883', buffer: { rows: 0 } } as object };
  return { metrics, fixesIn, drops, state };
}

t.test('/metrics serves the registry as Prometheus text, live', async (t) => {
  const f = fixture();
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: f.metrics, health: () => f.state });
  t.teardown(() => srv.close());
  t.ok(srv.port > 0, `bound port ${srv.port}`);
  f.fixesIn.inc({ device: 'BWC-0001' }, 42);
  f.drops.inc({ device: 'BWC-0001', reason: 'hdop' }, 3);
  let r = await get(srv.port, '/metrics');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
  let parsed = parseProm(r.body);
  t.same(parsed.get('bwc_fixes_in_total'), { help: 'Fixes in.', type: 'counter', samples: [{ labels: { device: 'BWC-0001' }, value: 42 }] });
  t.same(parsed.get('bwc_fixes_dropped_total')!.samples, [{ labels: { device: 'BWC-0001', reason: 'hdop' }, value: 3 }]);
  f.fixesIn.inc({ device: 'BWC-0001' });
  r = await get(srv.port, '/metrics?x=1');
  parsed = parseProm(r.body);
  t.equal(parsed.get('bwc_fixes_in_total')!.samples[0]!.value, 43, 'each scrape sees the current values; query strings ignored');
});

t.test('/healthz: 200 when healthy, 503 when not, JSON both ways', async (t) => {
  const f = fixture();
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: f.metrics, health: () => f.state });
  t.teardown(() => srv.close());
  let r = await get(srv.port, '/healthz');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], 'application/json');
  t.same(JSON.parse(r.body), { ok: true, detail: { broker: 'mqtt://127.0.0.1:1883', buffer: { rows: 0 } } });
  f.state = { ok: false, detail: { broker: null, reason: 'broker unreachable' } };
  r = await get(srv.port, '/healthz');
  t.equal(r.status, 503);
  t.same(JSON.parse(r.body), { ok: false, detail: { broker: null, reason: 'broker unreachable' } });
});

t.test('a failing health probe or metrics render answers an error, and the server lives on', async (t) => {
  const metrics = { contentType: 'text/plain', render: () => { throw new Error('buffer closed'); } };
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, health: () => { throw new Error('db locked'); } });
  t.teardown(() => srv.close());
  const h = await get(srv.port, '/healthz');
  t.equal(h.status, 503);
  t.same(JSON.parse(h.body), { ok: false, detail: { error: 'db locked' } });
  const m = await get(srv.port, '/metrics');
  t.equal(m.status, 500);
  t.match(m.body, /buffer closed/);
  t.equal((await get(srv.port, '/healthz')).status, 503, 'still answering');
});

t.test('other paths and methods', async (t) => {
  const f = fixture();
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: f.metrics, health: () => f.state });
  t.teardown(() => srv.close());
  t.equal((await get(srv.port, '/')).status, 404);
  t.equal((await get(srv.port, '/metrics/../etc/passwd')).status, 404);
  const post = await get(srv.port, '/metrics', 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers['allow'], 'GET, HEAD');
  const head = await get(srv.port, '/metrics', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
  t.ok(Number(head.headers['content-length']) > 0, 'HEAD gives the length of what GET would send');
});

t.test('close() ends kept-alive connections and can be called twice', async (t) => {
  const f = fixture();
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: f.metrics, health: () => f.state });
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  t.equal((await get(srv.port, '/metrics', 'GET', agent)).status, 200);
  await Promise.all([srv.close(), srv.close()]);
  await t.rejects(get(srv.port, '/metrics'), { code: 'ECONNREFUSED' }, 'nothing listens any more');
});

t.test('a port in use or out of range is refused with a clear error', async (t) => {
  const f = fixture();
  const first = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: f.metrics, health: () => f.state });
  t.teardown(() => first.close());
  try {
    await startHttpServer({ host: '127.0.0.1', port: first.port, metrics: f.metrics, health: () => f.state });
    t.fail('second listen on the same port succeeded');
  } catch (err) {
    t.ok(isBwcError(err, 'HTTP_LISTEN'));
    t.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${first.port}: EADDRINUSE`));
  }
  await t.rejects(startHttpServer({ host: '127.0.0.1', port: 70000, metrics: f.metrics, health: () => f.state }), { code: 'BAD_HTTP_PORT' });
});
