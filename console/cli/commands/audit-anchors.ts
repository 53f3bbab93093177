import type { Command } from 'commander';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Topics, DEFAULT_PREFIX } from '../../../protocol/topics.js';
import { intOption, writeOut } from '../../../common/cli-kit.js';
import { checkAnchor } from '../../../agent/audit/audit-anchor.js';
import { readAnchorsFile, type AnchorLine } from '../../../agent/audit/anchor-check.js';
import { connectConsole } from '../../fleet/broker-connect.js';

interface AnchorOptions {
  broker: string;
  out: string;
  prefix: string;
  agent?: string;
  duration?: number;
  jsonl?: boolean;
}

/**
 * `bwc-console audit-anchors`: keeps the signed audit heads the agents
 * publish, one JSON line each in --out (appended; the same anchor is kept
 * once). `bwc-agent audit verify --anchors FILE` checks a log against them.
 */
export function registerAuditAnchorsCommand(program: Command): void {
  program
    .command('audit-anchors')
    .description("collect the agents' signed audit heads (anchors) into a file, for `bwc-agent audit verify --anchors`")
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .requiredOption('--out <file>', 'anchors file (JSON Lines), appended to')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--agent <id>', 'only this agent (default: every agent)')
    .option('--duration <seconds>', 'stop after this many seconds (default: until interrupted)', intOption('--duration', 1))
    .option('--jsonl', 'print each anchor kept as a JSON object per line')
    .action(async (opts: AnchorOptions) => collect(opts));
}

async function collect(opts: AnchorOptions): Promise<void> {
  const topics = new Topics(opts.prefix);
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  const seen = new Set<string>();
  // The key each agent signed with first: a change is reported loudly.
  const keys = new Map<string, string>();
  if (existsSync(out)) {
    for (const a of readAnchorsFile(out)) if (a.signatureOk && !keys.has(a.head.agentId)) keys.set(a.head.agentId, a.publicKey);
  }
  let kept = 0;
  let refused = 0;
  const client = await connectConsole(opts.broker, { reconnectPeriod: 2000 });
  client.on('message', (topic, payload) => {
    const where = topics.parse(topic);
    if (where?.kind !== 'agent' || where.channel !== 'audit') return;
    const b64 = Buffer.from(payload).toString('base64');
    if (seen.has(b64)) return;
    seen.add(b64);
    const a = checkAnchor(payload);
    if (!a.signatureOk || a.head.agentId !== where.agentId) {
      refused++;
      process.stderr.write(`REFUSED anchor on ${topic}: ${a.problem ?? `it names agent ${a.head.agentId}`}\n`);
      return;
    }
    const pinned = keys.get(a.head.agentId);
    if (pinned === undefined) keys.set(a.head.agentId, a.publicKey);
    else if (pinned !== a.publicKey) process.stderr.write(`WARNING: agent ${a.head.agentId} signs with another key (${a.keyId}) than before: kept, but verify pins the first key\n`);
    if (a.head.restartedMs) process.stderr.write(`WARNING: agent ${a.head.agentId} restarted its audit chain at ${new Date(a.head.restartedMs).toISOString()}: ${a.head.restartReason ?? ''}\n`);
    const line: AnchorLine = { anchor: b64, topic, receivedMs: Date.now(), agentId: a.head.agentId, entries: a.head.entries, lastHash: a.head.lastHash, timeMs: a.head.timeMs, keyId: a.keyId };
    appendFileSync(out, JSON.stringify(line) + '\n');
    kept++;
    const { anchor: _a, ...shown } = line;
    process.stdout.write(opts.jsonl ? JSON.stringify({ type: 'anchor', ...shown }) + '\n' : `anchor ${a.head.agentId} ${a.head.entries} entries at ${new Date(a.head.timeMs).toISOString()} ${a.head.lastHash.slice(0, 16)}\n`);
  });
  await client.subscribeAsync(opts.agent ? topics.agent(opts.agent, 'audit') : topics.allAgents('audit'), { qos: 1 });
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (opts.duration) setTimeout(done, opts.duration * 1000);
  });
  await client.endAsync();
  const summary = { type: 'summary', kept, refused, out };
  await writeOut(opts.jsonl ? JSON.stringify(summary) + '\n' : `kept ${kept} anchors in ${out}${refused ? `, refused ${refused}` : ''}\n`);
  if (refused > 0) process.exitCode = 1;
}
