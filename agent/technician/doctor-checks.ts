import { accessSync, constants, existsSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { checkFfmpeg } from '../../drivers/video/ffmpeg-process.js';
import { redactUrl } from '../../drivers/video/ffmpeg-args.js';
import { X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import { loadConfig, maskUrlPassword, type LoadedConfig } from '../../config/load-config.js';
import { parsePortSpec } from '../../drivers/transport/index.js';
import { CONSTELLATIONS } from '../../drivers/nmea/types.js';
import { describeError } from '../../common/errors.js';
import { identifyCamera } from './camera-link.js';
import { sampleNmea, type NmeaSample } from './nmea-sample.js';
import { brokerCredentials, probeTls, tryMqttConnect, type BrokerCredentials } from './broker-probe.js';
import { BufferFile } from './buffer-file.js';

export type CheckLevel = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  /** What was checked: a device, a port, a broker. */
  subject?: string;
  level: CheckLevel;
  detail: string;
  /** What to do about a warn or a fail. */
  hint?: string;
}

export interface DoctorOptions {
  configFile: string;
  /** How long to listen to each GNSS port (default 3000 ms). */
  listenMs: number;
  /** Camera answer and broker connect timeout. */
  timeoutMs: number;
  /** Called as each check completes (progress). */
  onResult?: (r: CheckResult) => void;
}

/** The order of the checks: each builds on the ones before (a port must open before NMEA can flow). */
export const CHECK_ORDER = ['config', 'serial-permissions', 'nmea', 'fix', 'camera', 'video', 'clock', 'broker', 'tls', 'disk', 'buffer'] as const;

const WORST: Record<CheckLevel, number> = { skip: 0, pass: 0, warn: 1, fail: 2 };

export function worstLevel(results: CheckResult[]): 'pass' | 'warn' | 'fail' {
  const w = Math.max(0, ...results.map((r) => WORST[r.level]));
  return w === 2 ? 'fail' : w === 1 ? 'warn' : 'pass';
}

/** Clock skews past these are reported. */
const SKEW_WARN_MS = 2000;
const SKEW_FAIL_MS = 60_000;

/**
 * The technician's checks, in CHECK_ORDER, each pass/warn/fail with a hint
 * for what is wrong. A configuration that does not load stops everything
 * (nothing else can be checked without it).
 */
export async function runDoctor(o: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (r: CheckResult) => {
    results.push(r);
    o.onResult?.(r);
  };

  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(o.configFile);
    add({ check: 'config', level: 'pass', detail: `${loaded.file}: valid (agent ${loaded.config.agent.id}, ${loaded.config.devices.length} device(s), version ${loaded.version})` });
  } catch (err) {
    add({ check: 'config', level: 'fail', detail: describeError(err), hint: `fix the configuration (bwc-agent config validate ${o.configFile} lists every problem); nothing else can be checked without it` });
    return results;
  }
  const cfg = loaded.config;
  const devices = cfg.devices;

  // --- serial permissions
  const openable = new Set<string>();
  const serialPorts = devices.flatMap((d) => [d.gnss, d.control].filter((p): p is string => !!p).map((p) => ({ device: d.id, port: p })));
  if (devices.length === 0) add({ check: 'serial-permissions', level: 'warn', detail: 'no devices configured', hint: 'add cameras with bwc-agent provision, or enable discovery in the configuration' });
  for (const { device, port } of serialPorts) {
    const spec = parsePortSpec(port);
    if (spec.kind !== 'serial') {
      openable.add(port);
      add({ check: 'serial-permissions', subject: `${device} ${port}`, level: 'skip', detail: 'network port: no device permissions involved' });
      continue;
    }
    add(serialPermission(device, spec.path, openable));
  }

  // --- NMEA and fix, per GNSS port
  const samples = new Map<string, NmeaSample>();
  for (const d of devices) {
    if (!d.gnss) {
      add({
        check: 'nmea', subject: d.id, level: 'fail', detail: 'no GNSS port configured: this camera will never report a position',
        hint: `find its GNSS port with bwc-agent devices, then bwc-agent provision --port ${d.control ?? 'PORT'} --gnss GNSS_PORT … (or add gnss: to device ${d.id} in the configuration)`,
      });
      continue;
    }
    if (!openable.has(d.gnss)) {
      add({ check: 'nmea', subject: d.id, level: 'skip', detail: `${d.gnss} cannot be opened (see serial-permissions)` });
      continue;
    }
    try {
      const s = await sampleNmea(d.gnss, { baud: d.baud, durationMs: o.listenMs });
      samples.set(d.id, s);
      add(nmeaResult(d.id, d.gnss, s, o.listenMs));
    } catch (err) {
      add(portError('nmea', d.id, d.gnss, err));
    }
  }
  for (const d of devices) {
    const s = samples.get(d.id);
    if (!d.gnss || !s) continue;
    add(fixResult(d.id, s, cfg.pipeline.maxHdop, o.listenMs));
  }

  // --- camera answers
  const cameraClock = new Map<string, { cameraMs: number; systemMs: number }>();
  for (const d of devices) {
    if (!d.control) continue;
    if (!openable.has(d.control)) {
      add({ check: 'camera', subject: d.id, level: 'skip', detail: `${d.control} cannot be opened (see serial-permissions)` });
      continue;
    }
    try {
      const { identity, status } = await identifyCamera(d.control, { timeoutMs: o.timeoutMs });
      if (status.clockMs !== undefined) cameraClock.set(d.id, { cameraMs: status.clockMs, systemMs: Date.now() });
      const battery = status.batteryPct !== undefined ? `, battery ${status.batteryPct}%` : '';
      const low = status.batteryPct !== undefined && status.batteryPct < cfg.devicePorts.lowBatteryPct;
      add({
        check: 'camera', subject: d.id, level: low ? 'warn' : 'pass',
        detail: `camera ${identity.serial} (${identity.model} ${identity.firmware}) answers on ${d.control}: officer ${identity.officerNumber} ${identity.officerName}, recording ${status.recording}${battery}`,
        ...(low ? { hint: 'charge the camera (dock it)' } : {}),
      });
    } catch (err) {
      add(portError('camera', d.id, d.control, err));
    }
  }

  // --- video: ffmpeg (libx264) and each configured video source
  for (const r of videoChecks(loaded.config.devices, loaded.config.liveFeed.ffmpeg)) add(r);

  // --- clock skew: system vs GNSS vs camera
  if (samples.size === 0 && cameraClock.size === 0) add({ check: 'clock', level: 'skip', detail: 'no GNSS time and no camera clock read' });
  for (const [id, s] of samples) {
    if (!s.lastFix || s.lastFixSystemMs === undefined) continue;
    add(skewResult('clock', `${id} GNSS−system`, s.lastFix.timeMs - s.lastFixSystemMs, 'the system clock is off from GNSS time: enable time sync (timedatectl set-ntp true) or check the receiver date'));
  }
  for (const [id, c] of cameraClock) {
    add(skewResult('clock', `${id} camera−system`, c.cameraMs - c.systemMs, `set the camera clock: bwc-agent provision --port … (same officer) sets it from GNSS`));
  }

  // --- broker and TLS
  let creds: BrokerCredentials | undefined;
  try {
    creds = brokerCredentials(loaded);
  } catch (err) {
    add({ check: 'broker', level: 'fail', detail: `cannot read the TLS files: ${describeError(err)}`, hint: 'check mqtt.tls.caFile and mqtt.tls.certFile paths and permissions' });
  }
  const tlsResults: CheckResult[] = [];
  if (creds) {
    for (const url of cfg.mqtt.brokers) {
      const shown = maskUrlPassword(url);
      const tls = /^(mqtts|wss):/.test(url);
      try {
        await tryMqttConnect(url, creds, { timeoutMs: Math.min(o.timeoutMs * 3, cfg.mqtt.connectTimeoutMs), clientId: `${cfg.mqtt.clientId ?? `bwc-agent-${cfg.agent.id}`}-doctor-${process.pid}`, protocolVersion: cfg.mqtt.protocolVersion });
        add({ check: 'broker', subject: shown, level: 'pass', detail: `connected to ${shown} (MQTT ${cfg.mqtt.protocolVersion === 5 ? '5' : '3.1.1'})` });
      } catch (err) {
        add(brokerFailure(shown, err, tls));
      }
      if (tls) tlsResults.push(await tlsResult(url, shown, creds, o.timeoutMs));
    }
  }
  if (cfg.mqtt.tls?.certFile) tlsResults.push(certFileResult(cfg.mqtt.tls.certFile));
  if (tlsResults.length === 0) add({ check: 'tls', level: 'skip', detail: 'no mqtts:// or wss:// broker configured' });
  for (const r of tlsResults) add(r);

  // --- disk space
  add(diskResult(cfg.agent.dataDir));

  // --- buffer health and backlog age
  add(bufferResult(cfg.buffer.path!, cfg.buffer.maxRows, cfg.buffer.maxBytes, cfg.buffer.maxAgeHours));
  return results;
}

function serialPermission(device: string, path: string, openable: Set<string>): CheckResult {
  const subject = `${device} ${path}`;
  try {
    statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') {
      return { check: 'serial-permissions', subject, level: 'fail', detail: `${who()} may not reach ${path}: a folder on its path is closed to this user`, hint: `give ${who()} access to the folders leading to ${path}, or use the /dev/serial/by-id/ name of the port` };
    }
    return { check: 'serial-permissions', subject, level: 'fail', detail: `${path} does not exist`, hint: 'plug the camera in and switch it on; if it is plugged in, the port has another name now: run bwc-agent devices' };
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    openable.add(path);
    return { check: 'serial-permissions', subject, level: 'pass', detail: `${path} is readable and writable by ${who()}` };
  } catch {
    const st = statSync(path);
    const group = groupName(st.gid);
    return {
      check: 'serial-permissions', subject, level: 'fail',
      detail: `${who()} may not open ${path} (mode ${(st.mode & 0o777).toString(8)}, group ${group})`,
      hint: `add the agent user to the group that owns the port: sudo usermod -aG ${group} ${who()} (then log in again, or restart the service)`,
    };
  }
}

function nmeaResult(device: string, port: string, s: NmeaSample, listenMs: number): CheckResult {
  const at = s.baud ? ` at ${s.baud} baud` : '';
  if (s.sentences === 0) {
    return {
      check: 'nmea', subject: device, level: 'fail', detail: `no NMEA on ${port}${at} in ${listenMs} ms (${s.badChecksum} bad checksums, ${s.otherDrops} other bytes dropped)`,
      hint: s.badChecksum + s.otherDrops > 0 ? 'bytes arrive but are not NMEA: wrong baud rate (set baud: auto) or wrong port' : 'nothing arrives: is this the GNSS port of the camera (bwc-agent devices)? is the receiver on?',
    };
  }
  const total = s.sentences + s.badChecksum;
  const badShare = s.badChecksum / total;
  if (badShare > 0.05) {
    return { check: 'nmea', subject: device, level: 'warn', detail: `${s.sentences} sentences${at}, ${s.badChecksum} with bad checksums (${(badShare * 100).toFixed(0)}%)`, hint: 'a noisy line: check the cable and its length, and the baud rate' };
  }
  return { check: 'nmea', subject: device, level: 'pass', detail: `${s.sentences} sentences${at} in ${listenMs} ms, ${s.badChecksum} bad checksums` };
}

function fixResult(device: string, s: NmeaSample, maxHdop: number, listenMs: number): CheckResult {
  const sats = s.gnss ? CONSTELLATIONS.filter((c) => s.gnss!.sats[c]).map((c) => `${c} ${s.gnss!.sats[c]!.used}/${s.gnss!.sats[c]!.inView}`).join(', ') : '';
  const satText = sats ? `; satellites used/in view: ${sats}` : '';
  if (!s.lastFix) {
    // Without a fix the camera reports nothing: a failure to fix, not a note.
    return {
      check: 'fix', subject: device, level: 'fail', detail: `no position fix within ${Math.round(listenMs / 1000)} s${satText}`,
      hint: 'the receiver needs open sky: move the camera to a window or outside and run doctor again with a longer --listen (a cold start can take minutes)',
    };
  }
  const f = s.lastFix;
  const hdop = f.hdop !== undefined ? `, HDOP ${f.hdop}` : '';
  if (f.hdop !== undefined && f.hdop > maxHdop) {
    return { check: 'fix', subject: device, level: 'warn', detail: `${f.mode}D fix${hdop} above the filter limit ${maxHdop}: such fixes are dropped${satText}`, hint: 'poor geometry: more open sky, or raise pipeline.maxHdop' };
  }
  if (f.mode === 2) return { check: 'fix', subject: device, level: 'warn', detail: `2D fix only${hdop}${satText}`, hint: 'too few satellites for 3D: more open sky' };
  return { check: 'fix', subject: device, level: 'pass', detail: `3D fix${hdop}${satText}` };
}

function videoChecks(devices: Array<{ id: string; video?: string }>, ffmpegPath: string): CheckResult[] {
  const out: CheckResult[] = [];
  const ff = checkFfmpeg(ffmpegPath);
  const needed = devices.filter((d) => d.video && d.video !== 'camera');
  if (ff.ok) out.push({ check: 'video', subject: 'ffmpeg', level: 'pass', detail: ff.detail });
  else {
    out.push({
      check: 'video', subject: 'ffmpeg', level: needed.length > 0 ? 'fail' : 'warn', detail: ff.detail,
      hint: needed.length > 0 ? `${needed.map((d) => d.id).join(', ')} read video through ffmpeg: install it (apt-get install ffmpeg) or set liveFeed.ffmpeg` : 'without it, snapshots of V4L2/RTSP cameras and their live video are unavailable (apt-get install ffmpeg)',
    });
  }
  for (const d of needed) {
    const v = d.video!;
    if (v.startsWith('v4l2:')) {
      const node = v.slice(5);
      try {
        accessSync(node, constants.R_OK | constants.W_OK);
        out.push({ check: 'video', subject: d.id, level: 'pass', detail: `${node} is readable and writable` });
      } catch (err) {
        out.push({ check: 'video', subject: d.id, level: 'fail', detail: `${node}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`, hint: 'plug the camera in; add the agent user to the video group; bwc-agent devices lists the video nodes found' });
      }
    } else out.push({ check: 'video', subject: d.id, level: 'skip', detail: `${redactUrl(v)}: an RTSP camera is reached when a live feed starts` });
  }
  return out;
}

function skewResult(check: string, subject: string, skewMs: number, hint: string): CheckResult {
  const text = `${Math.abs(skewMs) >= 1000 ? `${(skewMs / 1000).toFixed(1)} s` : `${Math.round(skewMs)} ms`}`;
  const abs = Math.abs(skewMs);
  if (abs > SKEW_FAIL_MS) return { check, subject, level: 'fail', detail: `skew ${text}`, hint };
  if (abs > SKEW_WARN_MS) return { check, subject, level: 'warn', detail: `skew ${text}`, hint };
  return { check, subject, level: 'pass', detail: `skew ${text}` };
}

function portError(check: string, device: string, port: string, err: unknown): CheckResult {
  const code = (err as { code?: string }).code ?? '';
  const detail = describeError(err);
  if (code === 'PORT_BUSY') return { check, subject: device, level: 'warn', detail, hint: 'another program holds the port, probably the running agent: stop it (systemctl stop bwc-agent) to test the port, or look at its /healthz' };
  if (code === 'PORT_ACCESS') return { check, subject: device, level: 'fail', detail, hint: 'add the agent user to the dialout group (sudo usermod -aG dialout USER)' };
  if (code === 'CAMERA_TIMEOUT') return { check, subject: device, level: 'fail', detail, hint: `the camera does not answer on ${port}: switch it on, check the cable, check that ${port} is its control port (bwc-agent devices)` };
  if (code === 'BAUD_NOT_FOUND') return { check, subject: device, level: 'fail', detail, hint: 'no valid NMEA at any common rate: wrong port, or the receiver is off' };
  return { check, subject: device, level: 'fail', detail, hint: `check the port ${port}: bwc-agent devices lists what answers` };
}

function brokerFailure(shown: string, err: unknown, tls: boolean): CheckResult {
  const e = err as { code?: string | number; message?: string };
  const detail = `cannot connect to ${shown}: ${describeError(err)}${e.code && !String(describeError(err)).includes(String(e.code)) ? ` (${e.code})` : ''}`;
  let hint = 'check the URL, the network (4G link, firewall) and that the broker runs; the agent keeps buffering meanwhile';
  if (e.code === 'ECONNREFUSED') hint = 'nothing listens there: is the broker running, and is the port right? the agent keeps buffering meanwhile';
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') hint = 'the broker host name does not resolve: check the URL and DNS';
  else if (tls && /certificate|self.signed|verify|CERT/i.test(`${e.code ?? ''} ${e.message ?? ''}`)) hint = 'TLS verification failed: see the tls check';
  else if (e.code === 4 || e.code === 5 || e.code === 134 || e.code === 135 || /Not authorized|Bad User Name/i.test(e.message ?? '')) hint = 'the broker refused the credentials: check mqtt.username and the password file, or the client certificate';
  return { check: 'broker', subject: shown, level: 'fail', detail, hint };
}

async function tlsResult(url: string, shown: string, creds: BrokerCredentials, timeoutMs: number): Promise<CheckResult> {
  try {
    const p = await probeTls(url, creds, timeoutMs);
    const chain = p.chain.length ? `; chain: ${p.chain.join(' | ')}` : '';
    if (!p.authorized) {
      return {
        check: 'tls', subject: shown, level: creds.rejectUnauthorized ? 'fail' : 'warn',
        detail: `the broker certificate does not verify: ${p.error ?? 'unknown reason'}${chain}`,
        hint: /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/.test(p.error ?? '')
          ? 'the broker certificate was not signed by a CA this agent trusts: set mqtt.tls.caFile to the CA that signed it (ask the platform team for its CA certificate)'
          : /EXPIRED/.test(p.error ?? '') ? 'the broker certificate has expired: renew it on the broker' : /ALTNAME|HOSTNAME/.test(p.error ?? '') ? 'the certificate does not name this broker host: use the host name it was issued for in the URL' : 'check the broker certificate and mqtt.tls.caFile',
      };
    }
    if (p.daysLeft !== undefined && p.daysLeft < 30) {
      return { check: 'tls', subject: shown, level: 'warn', detail: `verified, but the broker certificate expires in ${p.daysLeft} days (${p.validTo})${chain}`, hint: 'renew the broker certificate before it expires' };
    }
    return { check: 'tls', subject: shown, level: 'pass', detail: `verified; expires ${p.validTo} (${p.daysLeft} days)${chain}` };
  } catch (err) {
    return { check: 'tls', subject: shown, level: 'fail', detail: `no TLS handshake: ${describeError(err)}`, hint: 'is this a TLS port? is the broker up (see the broker check)?' };
  }
}

function certFileResult(file: string): CheckResult {
  try {
    const cert = new X509Certificate(readFileSync(file));
    const days = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
    if (days < 0) return { check: 'tls', subject: file, level: 'fail', detail: `the client certificate expired on ${cert.validTo}`, hint: 'get a new device certificate (bwc-agent register, or from the platform team)' };
    if (days < 30) return { check: 'tls', subject: file, level: 'warn', detail: `the client certificate expires in ${days} days (${cert.validTo})`, hint: 'renew the device certificate soon' };
    return { check: 'tls', subject: file, level: 'pass', detail: `client certificate ${cert.subject.replace(/\n/g, ',')} valid until ${cert.validTo}` };
  } catch (err) {
    return { check: 'tls', subject: file, level: 'fail', detail: `cannot read the client certificate: ${describeError(err)}`, hint: 'mqtt.tls.certFile must be a PEM certificate' };
  }
}

function diskResult(dataDir: string): CheckResult {
  let dir = dataDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    const share = s.blocks > 0 ? s.bavail / s.blocks : 1;
    const text = `${(free / 2 ** 30).toFixed(2)} GiB free (${(share * 100).toFixed(0)}%) for ${dataDir}`;
    if (free < 100 * 2 ** 20) return { check: 'disk', level: 'fail', detail: text, hint: 'the buffer will start dropping fixes: free space on this file system' };
    if (free < 2 ** 30 || share < 0.1) return { check: 'disk', level: 'warn', detail: text, hint: 'little room left for the buffer during a long outage: free space' };
    return { check: 'disk', level: 'pass', detail: text };
  } catch (err) {
    return { check: 'disk', level: 'fail', detail: `cannot read free space for ${dataDir}: ${describeError(err)}`, hint: 'check that agent.dataDir is on a mounted file system' };
  }
}

function bufferResult(path: string, maxRows: number, maxBytes: number, maxAgeHours: number): CheckResult {
  if (!existsSync(path)) return { check: 'buffer', level: 'pass', detail: `no buffer yet at ${path} (created when the agent first runs)` };
  let b: BufferFile;
  try {
    b = BufferFile.open(path);
  } catch (err) {
    return { check: 'buffer', level: 'fail', detail: describeError(err), hint: 'the agent moves an unreadable buffer aside and starts a fresh one; check file permissions of agent.dataDir' };
  }
  try {
    const check = b.check();
    if (check !== 'ok') return { check: 'buffer', level: 'fail', detail: `${path} is damaged: ${check}`, hint: 'stop the agent; it moves a damaged buffer aside on start (unsent messages in it are lost)' };
    const s = b.stats();
    const ageS = s.oldestMs !== undefined ? Math.round((Date.now() - s.oldestMs) / 1000) : 0;
    const fill = Math.max(s.rows / maxRows, s.bytes / maxBytes);
    const text = `${s.rows} messages waiting (${s.bytes} bytes, ${(fill * 100).toFixed(1)}% of the bound), oldest ${ageS} s old`;
    if (fill > 0.8 || ageS > maxAgeHours * 3600 * 0.5) return { check: 'buffer', level: 'fail', detail: text, hint: 'the backlog is near its bound and the oldest fixes will be dropped: restore the broker connection (see the broker check)' };
    if (ageS > 3600) return { check: 'buffer', level: 'warn', detail: text, hint: 'messages have waited over an hour: the broker has been unreachable or slow (see the broker check)' };
    return { check: 'buffer', level: 'pass', detail: text };
  } catch (err) {
    return { check: 'buffer', level: 'fail', detail: `cannot read ${path}: ${describeError(err)}`, hint: 'check the buffer file' };
  } finally {
    b.close();
  }
}

function who(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (Number(id) === gid && name) return name;
    }
  } catch {
    // No /etc/group: show the number.
  }
  return String(gid);
}
