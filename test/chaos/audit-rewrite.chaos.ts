import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { baseConfig, CHAOS_PASSWORD, ChaosAgent, removeDir, scaled, secretFile, sleep, tempDir, waitFor, writeAgentConfig, writeResult } from './chaos-kit.js';
import { ChaosMosquitto } from './chaos-broker.js';
import { freePort } from '../helpers/mosquitto.js';
import { agentCli, consoleCli } from '../helpers/paths.js';
import { rebuildChain } from '../helpers/audit-attack.js';
import { PtyEndpoint } from '../../sim/gnss/port-endpoint.js';
import { Topics } from '../../protocol/topics.js';
import { signCommand } from '../../protocol/command-signing.js';
import { readAuditEntries, verifyAuditLog } from '../../agent/audit/audit-log.js';

/**
 * The audit log rewritten on the device. The agent records commands and
 * publishes signed anchors; `bwc-console audit-anchors` keeps them. With the
 * agent stopped, an attacker deletes a third of the entries (or cuts the
 * end, or turns a refusal into an acceptance) and rebuilds the chain and the
 * head file: `audit verify` alone says intact, `audit verify --anchors` says
 * it does not match. Then an entry is edited without rebuilding: at the next
 * start the agent sets the chain aside, logs an error, reports it on
 * /healthz and announces it in its next anchor.
 */
const COMMANDS = scaled(300, 60);

t.test(`audit rewrite: ${COMMANDS} commands, anchors, three rebuilt attacks and a broken chain at start`, { timeout: 600_000 }, async (t) => {
  const dir = tempDir('audit');
  t.teardown(() => removeDir(dir));
  const broker = await ChaosMosquitto.start(join(dir, 'broker'));
  t.teardown(() => broker.stop());
  mkdirSync(join(dir, 'dev', '.cam'), { recursive: true });
  const device = 'AUDIT-1';
  const port = new PtyEndpoint(join(dir, 'dev', device), join(dir, 'dev', '.cam', device));
  await port.plug();
  t.teardown(() => port.unplug());

  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'sup.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const httpPort = await freePort();
  const dataDir = join(dir, 'data');
  const base = baseConfig({ id: 'chaos-audit', dataDir, brokers: [broker.url], devices: [{ device, port: port.address }], passwordFile: secretFile(join(dir, 'pw'), CHAOS_PASSWORD) });
  const configFile = writeAgentConfig(join(dir, 'agent.yaml'), {
    ...base,
    http: { enabled: true, host: '127.0.0.1', port: httpPort },
    security: { trustedKeys: [{ id: 'sup', role: 'supervisor', publicKeyFile: join(dir, 'sup.pub') }], rateLimitPerIssuerPerMin: 10_000 },
    audit: { anchorIntervalS: 5 },
  });
  const anchorsFile = join(dir, 'anchors.jsonl');
  const collector: ChildProcess = spawn(process.execPath, [consoleCli, 'audit-anchors', '--broker', broker.url, '--out', anchorsFile, '--jsonl'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let collectorErr = '';
  collector.stderr!.on('data', (d: Buffer) => (collectorErr += d.toString()));
  t.teardown(() => void collector.kill('SIGTERM'));
  const anchors = () => (existsSync(anchorsFile) ? readFileSync(anchorsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { entries: number; timeMs: number }) : []);

  const agent = new ChaosAgent(configFile, 'audit-rewrite');
  agent.start();
  t.teardown(() => agent.stop());
  await waitFor(() => anchors().length > 0, 60_000, 'the first anchor collected');

  // Commands: accepted ones, and expired ones (refused, audited singly up to a few per interval).
  const topics = new Topics();
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'chaos', password: CHAOS_PASSWORD });
  t.teardown(() => client.endAsync(true));
  for (let i = 0; i < COMMANDS; i++) {
    const expired = i % 10 === 9;
    const c = signCommand({ deviceId: device, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey, ...(expired ? { issuedAtMs: Date.now() - 3_600_000, ttlMs: 60_000 } : {}) });
    await client.publishAsync(topics.device(device, 'cmd'), Buffer.from(c.envelope), { qos: 1 });
    if (i % 20 === 19) await sleep(200);
    // Halfway, wait for an anchor in between: the attacks below then meet anchors of the middle of the log too.
    if (i === Math.floor(COMMANDS / 2)) await sleep(6000);
  }
  const auditFile = join(dataDir, 'audit.log');
  await waitFor(() => existsSync(auditFile) && readAuditEntries(auditFile).filter((e) => e.outcome === 'accepted').length >= COMMANDS * 0.9, 120_000, 'the commands audited');
  await sleep(1000);
  await agent.stop(); // a clean stop publishes a last anchor of the final head
  const entries = readAuditEntries(auditFile);
  await waitFor(() => anchors().some((a) => a.entries === entries.length), 30_000, `an anchor of the final head (${entries.length} entries)`);
  const anchorCount = anchors().length;

  const verify = (withAnchors: boolean) => {
    const r = spawnSync(process.execPath, [agentCli, 'audit', 'verify', '--data-dir', dataDir, '--json', ...(withAnchors ? ['--anchors', anchorsFile] : [])], { encoding: 'utf8' });
    return { status: r.status, doc: JSON.parse(r.stdout) as { ok: boolean; entries: number; anchors?: { problems: string[] } } };
  };
  t.equal(verify(true).status, 0, 'the genuine log matches its anchors');

  const original = readFileSync(auditFile, 'utf8');
  const originalHead = readFileSync(`${auditFile}.head`, 'utf8');
  const third = Math.floor(entries.length / 3);
  const refusal = entries.findIndex((e) => e.outcome === 'rejected');
  const attacks = [
    { attack: `deleted ${third} entries from the middle`, forged: [...entries.slice(0, third), ...entries.slice(2 * third)] },
    { attack: `cut the last ${third} entries`, forged: entries.slice(0, entries.length - third) },
    { attack: `turned refusal #${refusal} into an acceptance`, forged: entries.map((e, i) => (i === refusal ? { ...e, outcome: 'accepted', reason: undefined, detail: 'statusQuery' } : e)) },
  ];
  const outcomes: Array<Record<string, unknown>> = [];
  for (const a of attacks) {
    rebuildChain(auditFile, a.forged);
    const alone = verify(false);
    const anchored = verify(true);
    outcomes.push({ attack: a.attack, entriesLeft: a.forged.length, verifyAlone: alone.doc.ok ? 'intact' : 'broken', verifyWithAnchors: anchored.doc.ok ? 'intact' : 'DETECTED', firstProblem: anchored.doc.anchors?.problems[0] });
    t.equal(alone.status, 0, `${a.attack}: the rebuilt chain passes audit verify on its own`);
    t.equal(anchored.status, 1, `${a.attack}: audit verify --anchors detects it (${anchored.doc.anchors?.problems[0]})`);
    writeFileSync(auditFile, original);
    writeFileSync(`${auditFile}.head`, originalHead);
  }

  // A broken chain found at start: edited without rebuilding.
  const lines = original.trimEnd().split('\n');
  lines[5] = lines[5]!.replace('"statusQuery"', '"clipFetch"');
  writeFileSync(auditFile, lines.join('\n') + '\n');
  const errorLogged = new Promise<boolean>((resolve) => agent.onLine((l) => l.includes('audit log chain was broken at start') && resolve(true)));
  agent.start();
  await waitFor(() => anchors().length > anchorCount, 60_000, 'an anchor after the restart');
  const logged = await Promise.race([errorLogged, sleep(5000).then(() => false)]);
  const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { detail: { audit: { brokenAtStart?: { movedTo: string; entries: number; problems: string[] } } } };
  const broken = health.detail.audit.brokenAtStart;
  await agent.stop();
  collector.kill('SIGTERM');
  await sleep(500);
  const newChain = verify(true);
  const result = {
    commands: COMMANDS,
    entries: entries.length,
    anchorsCollected: anchorCount,
    attacks: outcomes,
    brokenAtStart: { errorLogged: logged, reportedOnHealthz: !!broken, setAsideEntries: broken?.entries, problem: broken?.problems[0], anchorAnnouncedRestart: /restarted its audit chain/.test(collectorErr), newChainMatchesAnchors: newChain.status === 0 },
    crashes: agent.crashes.length,
  };
  writeResult('audit-rewrite', result);
  t.comment(JSON.stringify(result));
  t.ok(logged, 'the broken chain was logged as an error');
  t.ok(broken, 'and reported on /healthz');
  t.equal(broken?.entries, entries.length, 'with the number of entries set aside');
  t.match(collectorErr, /restarted its audit chain/, 'the next anchor announced the restart to the collector');
  t.equal(newChain.status, 0, 'the new chain matches the anchors; the old chain is named as superseded');
  t.ok(broken && verifyAuditLog(broken.movedTo).ok === false, 'the set-aside copy is kept as evidence');
  t.equal(agent.crashes.length, 0, 'the agent never exited by itself');
});
