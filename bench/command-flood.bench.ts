import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { Topics } from '../protocol/topics.js';
import { decodeMessage } from '../protocol/codec.js';
import { LiveFixReader } from './live-fix-reader.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { NmeaWriter } from '../sim/gnss/nmea-writer.js';
import { PtyEndpoint } from '../sim/gnss/port-endpoint.js';
import { freePort, TestMosquitto } from '../test/helpers/mosquitto.js';
import { outRoot } from '../test/helpers/paths.js';
import { loadAverage, percentile, round, sampleProcess, scrapeSum, sleep, startAgentProcess, stopChild } from './agent-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';

/**
 * Fixes under a command flood. Goal from the trust-on-the-wire issue: with
 * 1,000 garbage and 1,000 valid signed commands a second for 60 s, live-fix
 * p99 stays <= 100 ms, fixes delivered per second stay within 10 % of
 * normal, the agent stays connected and its RSS grows by at most 20 MB.
 * The agent runs with the node flags of deploy/bwc-agent.service
 * (--max-semi-space-size=2; BWC_AGENT_NODE_ARGS overrides): with node's
 * default young generation the heap alone grows by about 45 MB under any
 * sustained allocation, flood or not.
 *
 * Simulated receivers on real ptys write one epoch a second; `bwc-agent run`
 * (a separate process, reporting every fix, a trusted supervisor key) reads
 * and publishes them to a real mosquitto; a subscriber here times each live
 * fix from the write of its last sentence. First a quiet window gives the
 * normal rate, then a flooder process (test/helpers/command-flooder.ts) sends the
 * flood to the cameras' command topics while the same figures are taken.
 */
const CAMERAS = 8;

export async function run(): Promise<BenchRow[]> {
  const quietS = Number(process.env.BWC_BENCH_QUIET_S ?? 20);
  const floodS = Number(process.env.BWC_BENCH_FLOOD_S ?? 60);
  const garbagePerS = Number(process.env.BWC_BENCH_GARBAGE_PER_S ?? 1000);
  const signedPerS = Number(process.env.BWC_BENCH_SIGNED_PER_S ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-flood-'));
  const broker = await TestMosquitto.start();
  const cleanup: Array<() => Promise<unknown> | unknown> = [() => broker.stop(), () => rmSync(dir, { recursive: true, force: true })];
  try {
    const portDir = join(dir, 'dev');
    mkdirSync(join(portDir, '.camera-side'), { recursive: true });
    const cams = Array.from({ length: CAMERAS }, (_, i) => {
      const device = `BWC-${String(i + 1).padStart(4, '0')}`;
      return { device, endpoint: new PtyEndpoint(join(portDir, `${device}-gnss`), join(portDir, '.camera-side', `${device}-gnss`)), writer: new NmeaWriter({ rateHz: 1, seed: 300 + i }), written: new Map<number, number>() };
    });
    for (const c of cams) await c.endpoint.plug();
    cleanup.unshift(() => Promise.all(cams.map((c) => c.endpoint.unplug())));
    const startMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const patrols = cams.map((_, i) => new Patrol({ seed: 300 + i, rateHz: 1, startMs }));
    let k = 0;
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      for (const [i, c] of cams.entries()) {
        const fix = patrols[i]!.next();
        c.endpoint.write(c.writer.epochText(fix.timeMs, fix), () => c.written.set(fix.timeMs, performance.now()));
      }
      k++;
      timer = setTimeout(tick, Math.max(0, startMs + k * 1000 - Date.now()));
    };
    let timer = setTimeout(tick, startMs - Date.now());
    cleanup.unshift(() => {
      stopped = true;
      clearTimeout(timer);
    });

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, 'sup.key');
    const pubFile = join(dir, 'sup.pub');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const httpPort = await freePort();
    const configFile = join(dir, 'agent.yaml');
    writeFileSync(
      configFile,
      stringify({
        agent: { id: 'bench-flood', dataDir: join(dir, 'data') },
        log: { level: 'warn' },
        http: { enabled: true, host: '127.0.0.1', port: httpPort },
        mqtt: { brokers: [broker.url], reconnect: { minMs: 200, maxMs: 2000 } },
        devices: cams.map((c) => ({ id: c.device, gnss: c.endpoint.address })),
        reporting: { recordingIntervalS: 1, movingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
        security: { trustedKeys: [{ id: 'sup', role: 'supervisor', publicKeyFile: pubFile }] },
      }),
    );

    const topics = new Topics();
    const byDevice = new Map(cams.map((c) => [c.device, c]));
    let window: { samples: number[]; fixes: number } | undefined;
    const seenDevices = new Set<string>();
    const births = new Set<number>();
    let offline = 0;
    const reader = new LiveFixReader(topics);
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    cleanup.unshift(() => sub.endAsync(true));
    sub.on('message', (topic, payload) => {
      const now = performance.now();
      const where = topics.parse(topic);
      if (where?.kind === 'agent' && where.channel === 'state') {
        const s = decodeMessage<{ online?: boolean; session?: number }>('AgentState', payload);
        if (s.online) births.add(s.session ?? 0);
        else offline++;
        return;
      }
      const live = reader.read(topic, payload);
      if (!live) return;
      seenDevices.add(live.deviceId);
      if (!window) return;
      const cam = byDevice.get(live.deviceId)!;
      for (const f of live.fixes) {
        window.fixes++;
        const at = cam.written.get(f.timeMs);
        if (at !== undefined) window.samples.push(now - at);
      }
    });
    await sub.subscribeAsync([...LiveFixReader.filters(topics), topics.allAgents('state')], { qos: 1 });

    // As the shipped systemd unit runs it (deploy/bwc-agent.service): a small young generation.
    const agent = startAgentProcess(configFile, (process.env.BWC_AGENT_NODE_ARGS ?? '--max-semi-space-size=2').split(' ').filter(Boolean));
    cleanup.unshift(() => stopChild(agent.child));
    const deadline = Date.now() + 90_000;
    while (seenDevices.size < CAMERAS) {
      if (Date.now() > deadline) throw new Error(`live fixes from ${seenDevices.size} of ${CAMERAS} cameras after 90 s:\n${agent.output().slice(-3000)}`);
      await sleep(100);
    }
    await sleep(5000);
    const pid = agent.child.pid!;

    const measure = async (seconds: number, during?: () => void) => {
      const w = { samples: [] as number[], fixes: 0 };
      const before = sampleProcess(pid);
      let peakRss = before.rssMb;
      window = w;
      const t0 = Date.now();
      during?.();
      while (Date.now() - t0 < seconds * 1000) {
        await sleep(500);
        peakRss = Math.max(peakRss, sampleProcess(pid).rssMb);
      }
      window = undefined;
      const after = sampleProcess(pid);
      w.samples.sort((a, b) => a - b);
      return { ...w, perS: w.fixes / seconds, p99: percentile(w.samples, 99), p50: percentile(w.samples, 50), rssStart: before.rssMb, peakRss, cpu: (100 * (after.cpuS - before.cpuS)) / seconds };
    };

    const quiet = await measure(quietS);
    const reconnectsBefore = await scrapeSum(httpPort, 'bwc_mqtt_reconnects_total');
    const birthsBefore = births.size;
    let flooderOut = '';
    let flooderErr = '';
    const flooderDone = new Promise<void>((resolve) => {
      const f = spawn(process.execPath, [join(outRoot, 'test', 'helpers', 'command-flooder.js'), broker.url, cams.map((c) => c.device).join(','), keyFile, 'sup', String(garbagePerS), String(signedPerS), String(floodS)], { stdio: ['ignore', 'pipe', 'pipe'] });
      f.stdout.on('data', (d: Buffer) => (flooderOut += d.toString()));
      f.stderr.on('data', (d: Buffer) => (flooderErr += d.toString()));
      f.on('exit', () => resolve());
      cleanup.unshift(() => stopChild(f));
    });
    const flood = await measure(floodS, () => undefined);
    await flooderDone;
    await sleep(2000);
    const sent = flooderOut ? (JSON.parse(flooderOut.trim().split('\n').pop()!) as { garbage: number; signed: number; seconds: number }) : undefined;
    if (!sent) throw new Error(`the flooder printed nothing: ${flooderErr.slice(-500)}`);
    const reconnects = (await scrapeSum(httpPort, 'bwc_mqtt_reconnects_total')) - reconnectsBefore;
    const refused = await scrapeSum(httpPort, 'bwc_commands_refused_total');
    const suppressed = await scrapeSum(httpPort, 'bwc_command_replies_suppressed_total');
    const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { detail?: { audit?: { entries?: number } } };
    const connected = agent.child.exitCode === null && reconnects === 0 && births.size === birthsBefore && offline === 0;
    const ratio = flood.perS / quiet.perS;
    const growth = flood.peakRss - flood.rssStart;
    const bench = `command-flood ${CAMERAS} cameras at 1 Hz, ${garbagePerS} garbage + ${signedPerS} signed commands/s for ${floodS} s`;
    return [
      { bench, metric: 'live-fix p99 under flood (serial → subscriber)', value: round(flood.p99, 2), unit: 'ms', goal: '<= 100', met: flood.p99 <= 100 },
      { bench, metric: 'live-fix p99 quiet', value: round(quiet.p99, 2), unit: 'ms' },
      { bench, metric: 'live-fix p50 under flood / quiet', value: round(flood.p50, 2), unit: `ms (quiet ${round(quiet.p50, 2)})` },
      { bench, metric: 'fixes delivered per second under flood', value: round(flood.perS, 2), unit: `/s (quiet ${round(quiet.perS, 2)})`, goal: '>= 90 % of quiet', met: ratio >= 0.9 },
      { bench, metric: 'agent stayed connected (reconnects, new sessions, offline states)', value: reconnects + (births.size - birthsBefore) + offline, unit: 'events', goal: '0', met: connected },
      { bench, metric: 'agent RSS growth during the flood (peak − start)', value: round(growth, 1), unit: `MB (start ${round(flood.rssStart, 1)})`, goal: '<= 20', met: growth <= 20 },
      { bench, metric: 'agent CPU under flood / quiet', value: round(flood.cpu, 1), unit: `% core (quiet ${round(quiet.cpu, 1)})` },
      { bench, metric: 'commands sent (garbage + signed)', value: sent.garbage + sent.signed, unit: `in ${round(sent.seconds, 1)} s` },
      { bench, metric: 'commands refused (counted, incl. dropped unread)', value: refused, unit: 'commands' },
      { bench, metric: 'replies to refusals suppressed', value: suppressed, unit: 'replies' },
      { bench, metric: 'audit entries written for the whole flood', value: health.detail?.audit?.entries ?? NaN, unit: 'entries' },
      { bench, metric: 'load average at the end', value: loadAverage(), unit: '' },
    ];
  } finally {
    for (const f of cleanup) await f();
  }
}

void runIfMain(import.meta.url, run);
