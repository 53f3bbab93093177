import t from 'tap';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { baseConfig, CHAOS_PASSWORD, ChaosAgent, removeDir, scaled, secretFile, sleep, tempDir, waitFor, writeAgentConfig, writeResult } from './chaos-kit.js';
import { ChaosMosquitto } from './chaos-broker.js';
import { freePort } from '../helpers/mosquitto.js';
import { outRoot } from '../helpers/paths.js';
import { PtyEndpoint } from '../../sim/gnss/port-endpoint.js';
import { NmeaWriter } from '../../sim/gnss/nmea-writer.js';
import { Patrol } from '../../sim/gnss/patrol.js';
import { Topics } from '../../protocol/topics.js';
import { decodeMessage } from '../../protocol/codec.js';
import { FleetDecoder } from '../../console/fleet/fleet-decoder.js';
import { signCommand } from '../../protocol/command-signing.js';
import { readAuditEntries, verifyAuditLog } from '../../agent/audit/audit-log.js';

/**
 * Command floods against the running agent (test scale; the 60 s figure at
 * 1,000 + 1,000 a second is bench/command-flood.bench.ts): a quiet window,
 * then garbage (random bytes, unsigned, unknown key, forged signatures),
 * then valid signed commands far beyond the issuer's rate budget, from a
 * flooder process, while cameras on ptys report every second. The agent
 * keeps delivering fixes, stays connected, writes a handful of audit
 * entries for the whole flood, and a valid command afterwards is accepted.
 */
const CAMERAS = 2;
const PHASE_S = scaled(20, 8);
const RATE = scaled(500, 200);

t.test(`command flood: ${RATE} garbage/s then ${RATE} signed/s, ${PHASE_S} s each`, { timeout: 600_000 }, async (t) => {
  const dir = tempDir('flood');
  t.teardown(() => removeDir(dir));
  const broker = await ChaosMosquitto.start(join(dir, 'broker'));
  t.teardown(() => broker.stop());
  mkdirSync(join(dir, 'dev', '.cam'), { recursive: true });
  const cams = Array.from({ length: CAMERAS }, (_, i) => {
    const device = `FLOOD-${i + 1}`;
    return { device, endpoint: new PtyEndpoint(join(dir, 'dev', device), join(dir, 'dev', '.cam', device)), writer: new NmeaWriter({ rateHz: 1, seed: 40 + i }), patrol: new Patrol({ seed: 40 + i, rateHz: 1, startMs: Date.now() }), written: new Map<number, number>() };
  });
  for (const c of cams) await c.endpoint.plug();
  t.teardown(() => Promise.all(cams.map((c) => c.endpoint.unplug())));
  let feeding = true;
  const feed = setInterval(() => {
    if (!feeding) return;
    for (const c of cams) {
      const fix = c.patrol.next();
      c.endpoint.write(c.writer.epochText(fix.timeMs, fix), () => c.written.set(fix.timeMs, performance.now()));
    }
  }, 1000);
  t.teardown(() => {
    feeding = false;
    clearInterval(feed);
  });

  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'sup.key');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(dir, 'sup.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const httpPort = await freePort();
  const base = baseConfig({ id: 'chaos-flood', dataDir: join(dir, 'data'), brokers: [broker.url], devices: cams.map((c) => ({ device: c.device, port: c.endpoint.address })), passwordFile: secretFile(join(dir, 'pw'), CHAOS_PASSWORD) });
  const configFile = writeAgentConfig(join(dir, 'agent.yaml'), {
    ...base,
    log: { level: 'warn' },
    http: { enabled: true, host: '127.0.0.1', port: httpPort },
    security: { trustedKeys: [{ id: 'sup', role: 'supervisor', publicKeyFile: join(dir, 'sup.pub') }], refusalSummaryS: 5 },
  });

  const topics = new Topics();
  const byDevice = new Map(cams.map((c) => [c.device, c]));
  let phase: { fixes: number; latencies: number[] } | undefined;
  const births = new Set<number>();
  let offline = 0;
  const replies = new Map<string, string>();
  const decoder = new FleetDecoder(topics);
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'chaos', password: CHAOS_PASSWORD });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => {
    const now = performance.now();
    const where = topics.parse(topic);
    if (where?.kind === 'agent') {
      const s = decodeMessage<{ online?: boolean; session?: number }>('AgentState', payload);
      if (s.online) births.add(s.session ?? 0);
      else offline++;
      return;
    }
    if (where?.kind === 'device' && where.channel === 'reply') {
      const r = decodeMessage<{ commandId?: string; status?: string }>('Reply', payload);
      replies.set(String(r.commandId), String(r.status));
      return;
    }
    if (where?.kind !== 'device' || (where.channel !== 'live' && where.channel !== 'track')) return;
    // Decoded also between phases: a compact live fix is placed against the one before it.
    const fixes = decoder.decode(topic, payload).filter((r) => r.type === 'fix');
    if (!phase) return;
    for (const f of fixes) {
      phase.fixes++;
      const at = byDevice.get(where.deviceId)?.written.get(Date.parse(String(f.time)));
      if (at !== undefined) phase.latencies.push(now - at);
    }
  });
  await sub.subscribeAsync([topics.allDevices('live'), topics.allDevices('track'), topics.allDevices('reply'), topics.allAgents('state')], { qos: 1 });

  const agent = new ChaosAgent(configFile, 'command-flood');
  agent.start();
  t.teardown(() => agent.stop());
  await waitFor(() => births.size > 0, 60_000, 'the agent online');
  await sleep(5000);

  const window = async (run?: () => Promise<{ garbage: number; signed: number }>) => {
    const w = { fixes: 0, latencies: [] as number[] };
    phase = w;
    const started = Date.now();
    const sent = run ? await run() : (await sleep(PHASE_S * 1000), { garbage: 0, signed: 0 });
    phase = undefined;
    const seconds = (Date.now() - started) / 1000;
    w.latencies.sort((a, b) => a - b);
    const p99 = w.latencies[Math.max(0, Math.ceil(w.latencies.length * 0.99) - 1)] ?? NaN;
    return { seconds: Math.round(seconds * 10) / 10, fixesPerS: Math.round((w.fixes / seconds) * 100) / 100, p99Ms: Math.round(p99), ...sent };
  };
  const flood = (garbagePerS: number, signedPerS: number) => () =>
    new Promise<{ garbage: number; signed: number }>((resolve, reject) => {
      const f = spawn(process.execPath, [join(outRoot, 'test', 'helpers', 'command-flooder.js'), broker.url, cams.map((c) => c.device).join(','), keyFile, 'sup', String(garbagePerS), String(signedPerS), String(PHASE_S)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      f.stdout.on('data', (d: Buffer) => (out += d.toString()));
      f.stderr.on('data', (d: Buffer) => (err += d.toString()));
      f.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as { garbage: number; signed: number }) : reject(new Error(`flooder exited ${code}: ${err}`))));
    });

  const quiet = await window();
  const garbage = await window(flood(RATE, 0));
  const signed = await window(flood(0, RATE));
  await sleep(6000); // one refusal summary interval

  // The control: a valid command after the floods is accepted (the issuer's budget has refilled by then or within a minute).
  let control = '';
  let controlSentAt = 0;
  await waitFor(() => {
    // Accepted, or already done (its final reply replaces the acceptance here).
    if (replies.get(control) === 'REPLY_STATUS_ACCEPTED' || replies.get(control) === 'REPLY_STATUS_DONE') return true;
    // Again after a refusal, or after 5 s without a reply (replies to refusals are rate limited).
    if (!control || replies.get(control) || Date.now() - controlSentAt > 5000) {
      controlSentAt = Date.now();
      const c = signCommand({ deviceId: cams[0]!.device, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey });
      control = c.commandId;
      sub.publish(topics.device(cams[0]!.device, 'cmd'), Buffer.from(c.envelope), { qos: 1 });
    }
    return false;
  }, 120_000, 'a valid command accepted after the floods');

  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const metric = (name: string) => metrics.split('\n').filter((l) => l.startsWith(name)).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  const refusedByReason = Object.fromEntries(metrics.split('\n').filter((l) => l.startsWith('bwc_commands_refused_total{')).map((l) => [/reason="([^"]+)"/.exec(l)![1]!, Number(l.slice(l.lastIndexOf(' ') + 1))]));
  const reconnects = metric('bwc_mqtt_reconnects_total');
  const offlineWhileRunning = offline; // a clean stop says offline itself
  const alive = agent.running;
  await agent.stop();
  const auditFile = join(dir, 'data', 'audit.log');
  const audit = readAuditEntries(auditFile);
  const chain = verifyAuditLog(auditFile);
  const sentTotal = garbage.garbage + signed.signed;
  const refusedTotal = Object.values(refusedByReason).reduce((a, b) => a + b, 0);
  const auditedRefusals = audit.filter((e) => e.outcome === 'rejected' || e.outcome === 'dropped').reduce((s, e) => s + (e.count ?? 1), 0);
  const result = {
    cameras: CAMERAS,
    phaseS: PHASE_S,
    ratePerS: RATE,
    quiet,
    garbageFlood: garbage,
    signedFlood: signed,
    refusedByReason,
    refusedTotal,
    repliesSuppressed: metric('bwc_command_replies_suppressed_total'),
    auditEntries: audit.length,
    auditSummaryEntries: audit.filter((e) => e.count !== undefined).length,
    auditedRefusals,
    auditChainOk: chain.ok,
    reconnects,
    newSessions: births.size - 1,
    offlineStates: offlineWhileRunning,
    crashes: agent.crashes.length,
    aliveAtEnd: alive,
    controlAccepted: true,
  };
  writeResult('command-flood', result);
  t.comment(JSON.stringify(result));
  t.equal(agent.crashes.length, 0, 'the agent never exited by itself');
  t.ok(alive, 'the agent was running at the end');
  t.equal(reconnects + births.size - 1 + offlineWhileRunning, 0, 'the agent stayed connected through both floods (no reconnect, no new session, no offline state)');
  t.ok(garbage.fixesPerS >= quiet.fixesPerS * 0.5, `fixes kept coming during the garbage flood (${garbage.fixesPerS}/s, quiet ${quiet.fixesPerS}/s)`);
  t.ok(signed.fixesPerS >= quiet.fixesPerS * 0.5, `fixes kept coming during the signed flood (${signed.fixesPerS}/s, quiet ${quiet.fixesPerS}/s)`);
  t.ok(refusedTotal >= sentTotal * 0.95, `every flood message was refused and counted (${refusedTotal} of ${sentTotal} sent; the rest accepted within the budget)`);
  t.ok(audit.length < 200, `the whole flood left ${audit.length} audit entries, not one per message`);
  t.equal(auditedRefusals, refusedTotal, 'the audit entries (single and summaries) account for every refusal counted');
  t.equal(chain.ok, true, 'the audit chain verifies');
});
