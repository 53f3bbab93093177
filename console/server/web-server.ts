import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WebSocket } from 'ws';
import { describeError } from '../../common/errors.js';
import type { CommandRole } from '../../protocol/command-signing.js';
import { checkTopicId } from '../../protocol/topics.js';
import type { TrackStore } from '../store/track-store.js';
import { findStopsIn } from '../store/stops.js';
import { encodeTrackColumns, TRACK_COLUMNS_TYPE } from '../store/track-columns.js';
import { EXPORT_TYPES, exportTrack, type ExportFormat } from '../store/track-export.js';
import { accuracyM } from '../store/track-store.js';
import { Auth, principalOf, roleAtLeast, type Principal } from './auth.js';
import type { ConsoleAudit } from './console-audit.js';
import type { FleetState } from './fleet-state.js';
import { encodeFrame } from '../fleet/live-frame.js';
import type { LiveRelay } from './live-relay.js';
import type { CommandLinks, SpotService } from './spot-service.js';

export interface MapSettings {
  /** Tile URL template with {z} {x} {y} (and {s}), or '' for none. */
  tiles: string;
  /** Datum of the basemap: wgs84, gcj02 (most Chinese maps) or bd09 (Baidu). */
  crs: 'wgs84' | 'gcj02' | 'bd09';
  /** Trail length on the live map, minutes. */
  trailMinutes: number;
}

export interface WebServerOptions {
  auth: Auth;
  audit: ConsoleAudit;
  state: FleetState;
  store: TrackStore;
  links: CommandLinks;
  spot: SpotService;
  live: LiveRelay;
  map: MapSettings;
  /** Folder of z/x/y tiles served at /tiles/ (an offline basemap). */
  tilesDir?: string;
  /** Where the built page is (index.html, app.js, app.css). */
  appDir?: string;
  pushIntervalMs?: number;
  secureCookie?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_APP_DIR = resolve(here, '..', 'web-app');

const DAY = 86_400_000;

function deviceList(v: unknown): string[] {
  const list = String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const d of list) checkTopicId('device', d);
  return list;
}

function timeParam(v: unknown, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = /^\d+$/.test(String(v)) ? Number(v) : Date.parse(String(v));
  if (!Number.isFinite(n)) throw Object.assign(new Error(`not a time: ${String(v)}`), { statusCode: 400 });
  return n;
}

/** The command centre's HTTP and WebSocket server. */
export async function buildWebServer(o: WebServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  await app.register(websocket);
  const appDir = o.appDir ?? DEFAULT_APP_DIR;
  const sockets = new Set<{ ws: WebSocket; p: Principal }>();
  const { auth } = o;

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob: http: https:; media-src 'self' blob:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'");
    reply.header('Cache-Control', 'no-store');
    return payload;
  });

  // The page itself holds no data: everything it shows comes from the APIs below, each checking the role.
  const page = (file: string, type: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const path = join(appDir, file);
    if (!existsSync(path)) return reply.code(500).type('text/plain').send(`the page is not built (${path} missing): run npm run build`);
    return reply.type(type).send(readFileSync(path));
  };
  app.get('/', page('index.html', 'text/html; charset=utf-8'));
  app.get('/app.js', page('app.js', 'text/javascript; charset=utf-8'));
  app.get('/app.css', page('app.css', 'text/css; charset=utf-8'));
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

  app.post('/api/login', async (req, reply) => {
    // JSON only: a cross-site HTML form cannot send it.
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return reply.code(415).send({ error: 'send JSON' });
    const b = (req.body ?? {}) as { name?: unknown; password?: unknown };
    if (typeof b.name !== 'string' || typeof b.password !== 'string') return reply.code(400).send({ error: 'name and password are required' });
    const r = await auth.login(b.name, b.password);
    if (!r) {
      o.audit.record({ user: b.name.slice(0, 64), role: '', action: 'login.refused', from: req.ip });
      return reply.code(401).send({ error: 'wrong name or password' });
    }
    o.audit.record({ user: r.principal.name, role: r.principal.role, action: 'login', from: req.ip });
    reply.header('Set-Cookie', Auth.cookie(r.token, o.secureCookie ?? false));
    return { name: r.principal.name, role: r.principal.role, csrf: r.principal.csrf, canCommand: o.links.has(r.principal.role) };
  });

  app.post('/api/logout', { preHandler: auth.guard('viewer') }, async (req, reply) => {
    auth.logout(req);
    reply.header('Set-Cookie', `${Auth.cookie('', false)}; Max-Age=0`);
    return { ok: true };
  });

  app.get('/api/session', { preHandler: auth.guard('viewer') }, async (req) => {
    const p = principalOf(req);
    return { name: p.name, role: p.role, csrf: p.csrf, canCommand: o.links.has(p.role) };
  });

  app.get('/api/config', { preHandler: auth.guard('viewer') }, async () => ({ map: o.map, tilesServed: Boolean(o.tilesDir) }));

  app.get('/api/fleet', { preHandler: auth.guard('viewer') }, async () => ({ devices: [...o.state.devices.values()], alarms: o.state.openAlarms() }));

  app.post('/api/alarms/:id/ack', { preHandler: auth.guard('viewer') }, async (req, reply) => {
    const p = principalOf(req);
    const a = o.state.acknowledge((req.params as { id: string }).id, p.name);
    if (!a) return reply.code(404).send({ error: 'no such alarm' });
    o.audit.record({ user: p.name, role: p.role, action: 'alarm.ack', device: a.device, event: a.event, alarm: a.id });
    return a;
  });

  // The replay: JSON (per device, arrays t, lat, lon, acc, speed), or with format=columns the
  // same in binary columns (console/store/track-columns.ts), which the page uses: a day of a
  // device is 2.8 MB to take as it is instead of 5.3 MB to parse.
  app.get('/api/track', { preHandler: auth.guard('viewer') }, async (req, reply) => {
    const q = req.query as Record<string, string>;
    const toMs = timeParam(q.to, Date.now());
    const fromMs = timeParam(q.from, toMs - DAY);
    const devices = [...new Set(deviceList(q.devices))];
    if (q.format !== undefined && q.format !== 'json' && q.format !== 'columns') return reply.code(400).send({ error: 'format must be json or columns' });
    const tracks = await o.store.trackColumns({ devices, fromMs, toMs, limit: 200_000 });
    const stops = tracks.flatMap((c) => findStopsIn(c, Number(q.stopRadiusM ?? 30), Number(q.stopMinS ?? 60)));
    if (q.format === 'columns') return reply.type(TRACK_COLUMNS_TYPE).send(Buffer.from(encodeTrackColumns({ fromMs, toMs, stops }, tracks, (h) => accuracyM(h)!)));
    const out: Record<string, { t: number[]; lat: number[]; lon: number[]; acc: Array<number | null>; speed: Array<number | null> }> = {};
    const orNull = (v: number) => (Number.isNaN(v) ? null : v);
    for (const c of tracks) {
      out[c.device] = { t: Array.from(c.t), lat: Array.from(c.lat), lon: Array.from(c.lon), acc: Array.from(c.hdop, (h) => (Number.isNaN(h) ? null : accuracyM(h)!)), speed: Array.from(c.speed, orNull) };
    }
    return { fromMs, toMs, devices: out, stops };
  });

  app.get('/api/export', { preHandler: auth.guard('viewer') }, async (req, reply) => {
    const q = req.query as Record<string, string>;
    const format = q.format as ExportFormat;
    if (!(format in EXPORT_TYPES)) return reply.code(400).send({ error: 'format must be gpx, geojson or csv' });
    const toMs = timeParam(q.to, Date.now());
    const fromMs = timeParam(q.from, toMs - DAY);
    const devices = deviceList(q.devices);
    const p = principalOf(req);
    o.audit.record({ user: p.name, role: p.role, action: 'track.export', devices, format, fromMs, toMs });
    const fixes = await o.store.track({ devices, fromMs, toMs });
    reply.header('Content-Disposition', `attachment; filename="track.${format === 'geojson' ? 'geojson' : format}"`);
    return reply.type(EXPORT_TYPES[format]).send(exportTrack(fixes, format));
  });

  app.post('/api/spot', { preHandler: auth.guard('supervisor') }, async (req, reply) => {
    const p = principalOf(req);
    if (!o.links.has(p.role)) return reply.code(403).send({ error: `this console holds no ${p.role} key: start it with --key ${p.role}.key` });
    const b = (req.body ?? {}) as { kind?: string; device?: string; random?: number };
    if (b.kind !== 'snapshot' && b.kind !== 'clip') return reply.code(400).send({ error: 'kind must be snapshot or clip (live views go through /api/live)' });
    let devices: string[];
    if (typeof b.device === 'string') devices = deviceList(b.device);
    else if (Number.isInteger(b.random) && b.random! >= 1 && b.random! <= 100) devices = o.spot.pickRecording(b.random!);
    else return reply.code(400).send({ error: 'give device or random (1-100)' });
    if (!devices.length) return reply.code(409).send({ error: 'no officer is recording now' });
    return { jobs: await o.spot.start(p.name, p.role as CommandRole, b.kind, devices) };
  });

  app.get('/api/spot/:id', { preHandler: auth.guard('supervisor') }, async (req, reply) => {
    const job = o.spot.jobs.get((req.params as { id: string }).id);
    if (!job) return reply.code(404).send({ error: 'no such spot check' });
    const { file: _file, ...rest } = job;
    return rest;
  });

  app.get('/api/spot/:id/file', { preHandler: auth.guard('supervisor') }, async (req, reply) => {
    const job = o.spot.jobs.get((req.params as { id: string }).id);
    if (!job?.file || job.result !== 'ok') return reply.code(404).send({ error: 'no verified file for this spot check' });
    const p = principalOf(req);
    o.audit.record({ user: p.name, role: p.role, action: `spot-check.${job.kind}.view`, device: job.device, job: job.id, sha256: job.sha256 });
    reply.header('Content-Disposition', `${job.kind === 'clip' ? 'attachment' : 'inline'}; filename="${o.spot.fileName(job).replace(/[^A-Za-z0-9._-]/g, '_')}"`);
    reply.header('X-Content-SHA256', job.sha256 ?? '');
    return reply.type(job.contentType ?? 'application/octet-stream').send(createReadStream(job.file));
  });

  app.post('/api/live/:id/stop', { preHandler: auth.guard('supervisor') }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const s = o.live.sessions.get(id);
    const p = principalOf(req);
    if (!s || s.user !== p.name) return reply.code(404).send({ error: 'no such live view of yours' });
    o.live.stop(id);
    return { ok: true };
  });

  app.get('/api/ws', { websocket: true, preHandler: auth.guard('viewer') }, (ws: WebSocket, req) => {
    const p = principalOf(req);
    const entry = { ws, p };
    sockets.add(entry);
    const mine = new Set<string>();
    ws.send(JSON.stringify({ type: 'snapshot', devices: [...o.state.devices.values()], alarms: o.state.openAlarms() }));
    ws.on('message', (raw) => {
      let m: { type?: string; device?: string; random?: number; durationS?: number };
      try {
        m = JSON.parse(String(raw)) as typeof m;
      } catch {
        return;
      }
      if (m.type !== 'live') return;
      if (!roleAtLeast(p.role, 'supervisor') || !o.links.has(p.role)) return void ws.send(JSON.stringify({ type: 'live-error', device: m.device, error: `live views need the supervisor role and a key for it on this console; you are ${p.role}` }));
      const durationS = Math.min(600, Math.max(5, Number(m.durationS) || 60));
      let targets: string[];
      try {
        // "Spot check N random recording officers": the server picks, from the devices online and recording.
        targets = typeof m.device === 'string' ? deviceList(m.device).slice(0, 1) : o.spot.pickRecording(Math.min(20, Math.max(1, Number(m.random) || 1)));
      } catch (err) {
        return void ws.send(JSON.stringify({ type: 'live-error', device: m.device, error: describeError(err) }));
      }
      if (!targets.length) return void ws.send(JSON.stringify({ type: 'live-error', error: 'no officer is recording now' }));
      for (const device of targets) o.live
        .start(p.name, p.role as CommandRole, device, durationS, {
          frame: (h, data) => ws.readyState === ws.OPEN && ws.send(encodeFrame(h, data)),
          ended: (id, why) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'live-ended', live: id, why })),
        })
        .then((s) => {
          mine.add(s.id);
          ws.send(JSON.stringify({ type: 'live-started', live: s.id, device: s.device, durationS }));
        })
        .catch((err: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'live-error', device, error: describeError(err) })));
    });
    ws.on('close', () => {
      sockets.delete(entry);
      for (const id of mine) o.live.stop(id, 'viewer left the page');
    });
  });

  // Changes go to every open page a few times a second, batched.
  const timer = setInterval(() => {
    const { devices, alarms } = o.state.drain();
    if (!devices.length && !alarms.length) return;
    const msg = JSON.stringify({ type: 'update', devices, alarms });
    for (const s of sockets) if (s.ws.readyState === s.ws.OPEN) s.ws.send(msg);
  }, o.pushIntervalMs ?? 250);
  app.addHook('onClose', async () => {
    clearInterval(timer);
    for (const s of sockets) s.ws.close(1001, 'server stopping');
  });

  if (o.tilesDir) {
    const root = resolve(o.tilesDir);
    app.get('/tiles/:z/:x/:y', { preHandler: auth.guard('viewer') }, async (req, reply) => {
      const { z, x, y } = req.params as Record<string, string>;
      const m = /^(\d+)\.(png|jpg|webp)$/.exec(y);
      if (!/^\d+$/.test(z) || !/^\d+$/.test(x) || !m) return reply.code(400).send({ error: 'tiles are /tiles/Z/X/Y.png' });
      const file = join(root, z, x, `${m[1]}.${m[2]}`);
      if (!existsSync(file)) return reply.code(404).send({ error: 'no such tile' });
      return reply.type(`image/${m[2] === 'jpg' ? 'jpeg' : m[2]}`).send(createReadStream(file));
    });
  }
  return app;
}
