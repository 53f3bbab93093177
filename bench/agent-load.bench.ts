import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, TestMosquitto } from '../test/helpers/mosquitto.js';
import { FleetRecorder } from '../test/helpers/fleet-recorder.js';
import {
  cpuPercent,
  loadAverage,
  MachineLoad,
  round,
  scrapeSum,
  sampleProcess,
  sleep,
  startAgentProcess,
  startSimProcess,
  stopChild,
  writeAgentConfig,
} from './agent-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';

/**
 * The agent's own cost under load, as deployed: `bwc-agent run` as a
 * separate process reading simulated cameras on real pseudo-terminals
 * (the simulator in another process, whose CPU does not count: see
 * sim-feeder.ts for why its footage frames are rarer than `bwc-agent sim`'s) and
 * publishing to a test mosquitto, with the default reporting policy. After a
 * warm-up, the agent's CPU (utime + stime from /proc/PID/stat) is taken over
 * a window and its RSS read (VmRSS, and the peak VmHWM).
 *
 * Goals from the agent core issue:
 * - a gateway with 64 cameras at 5 Hz: <= 25% of one core, <= 150 MB RSS;
 * - a handheld with 1 camera at 1 Hz: <= 1% of one core, <= 70 MB RSS.
 *
 * The machine has two cores shared with the simulator, socat (one per
 * pty), mosquitto and whatever else runs: its load is printed beside.
 * BWC_BENCH_WINDOW_S sets the measuring window (default 20 s), BWC_BENCH_CASE
 * picks cases by name prefix, BWC_AGENT_NODE_ARGS adds node flags (--cpu-prof).
 */
interface Case {
  name: string;
  cameras: number;
  rateHz: 1 | 5;
  warmupS: number;
  cpuGoal: number;
  rssGoalMb: number;
  /** Node flags of the agent process. */
  nodeArgs?: string[];
}

const CASES: Case[] = [
  // RSS climbs for about a minute (V8 growing the young generation), then
  // stays within 135-155 MB: a long warm-up, so the figure is the plateau.
  { name: 'gateway 64 cameras at 5 Hz', cameras: 64, rateHz: 5, warmupS: 40, cpuGoal: 25, rssGoalMb: 150 },
  // V8 grows the young generation to its maximum (16 MB semi-spaces, ~48 MB
  // committed) under a gateway's steady allocation; a 2 MB cap costs little
  // CPU (more, shorter scavenges). The flag must be on node's command line.
  { name: 'gateway 64 cameras at 5 Hz, node --max-semi-space-size=2', cameras: 64, rateHz: 5, warmupS: 10, cpuGoal: 25, rssGoalMb: 150, nodeArgs: ['--max-semi-space-size=2'] },
  { name: 'handheld 1 camera at 1 Hz', cameras: 1, rateHz: 1, warmupS: 10, cpuGoal: 1, rssGoalMb: 70 },
  // An empty node is 40 MB here; V8's lite mode (no optimising compiler)
  // takes about 13 MB off the agent, which a handheld's 1 Hz does not need.
  { name: 'handheld 1 camera at 1 Hz, node --lite-mode', cameras: 1, rateHz: 1, warmupS: 10, cpuGoal: 1, rssGoalMb: 70, nodeArgs: ['--lite-mode'] },
];

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const windowS = Number(process.env.BWC_BENCH_WINDOW_S ?? 20);
  const only = process.env.BWC_BENCH_CASE;
  for (const c of CASES) {
    if (only && !c.name.startsWith(only)) continue;
    rows.push(...(await measure(c, windowS)));
  }
  return rows;
}

async function measure(c: Case, windowS: number): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-load-'));
  const broker = await TestMosquitto.start();
  const cleanup: Array<() => Promise<void> | void> = [() => broker.stop(), () => rmSync(dir, { recursive: true, force: true })];
  const bench = `agent-load ${c.name}`;
  try {
    const sim = await startSimProcess([String(c.cameras), String(c.rateHz), join(dir, 'ports')], c.cameras, fileURLToPath(new URL('./sim-feeder.js', import.meta.url)));
    cleanup.unshift(sim.stop);
    const configFile = join(dir, 'agent.yaml');
    const httpPort = await freePort();
    writeAgentConfig(configFile, { id: 'bench-load', dataDir: join(dir, 'data'), broker: broker.url, devices: sim.ports, httpPort });
    const recorder = await FleetRecorder.start(broker.url);
    cleanup.unshift(() => recorder.stop());
    const agent = startAgentProcess(configFile, [...(c.nodeArgs ?? []), ...(process.env.BWC_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean)]);
    cleanup.unshift(() => stopChild(agent.child));
    const pid = agent.child.pid!;

    // Warm-up: every camera's first fix has arrived, then a little more.
    await recorder.waitFor(() => new Set(recorder.fixes().map((f) => f.device)).size === c.cameras, 90_000, `a fix from each of ${c.cameras} cameras`).catch((err: Error) => {
      throw new Error(`${err.message}\nagent output:\n${agent.output().slice(-3000)}`);
    });
    await sleep(c.warmupS * 1000);

    const machine = new MachineLoad();
    const fixes0 = recorder.fixes().length;
    // The agent's own count of fixes decoded: proof that it read every camera (the scrape costs it little).
    const in0 = await scrapeSum(httpPort, 'bwc_fixes_in_total');
    const a = sampleProcess(pid);
    const simA = sampleProcess(sim.child.pid!);
    await sleep(windowS * 1000);
    const b = sampleProcess(pid);
    const simB = sampleProcess(sim.child.pid!);
    const fixesIn = (await scrapeSum(httpPort, 'bwc_fixes_in_total')) - in0;
    const machineBusy = machine.busyPercent();
    const fixesOut = recorder.fixes().length - fixes0;
    const cpu = cpuPercent(a, b);
    const rss = b.rssMb;
    return [
      { bench, metric: `agent CPU over ${windowS} s`, value: round(cpu, 2), unit: '% core', goal: `<= ${c.cpuGoal}`, met: cpu <= c.cpuGoal },
      { bench, metric: 'agent RSS at the end', value: round(rss), unit: 'MB', goal: `<= ${c.rssGoalMb}`, met: rss <= c.rssGoalMb },
      { bench, metric: 'agent peak RSS (VmHWM, start-up included)', value: round(b.peakRssMb), unit: 'MB' },
      { bench, metric: 'of the RSS: anonymous (heap, native); the rest is node binary and library file pages', value: round(b.anonMb), unit: 'MB' },
      { bench, metric: `fixes decoded per second (cameras send ${c.cameras * c.rateHz})`, value: round(fixesIn / windowS), unit: '/s' },
      { bench, metric: 'fixes published per second (default reporting policy)', value: round(fixesOut / windowS), unit: '/s' },
      { bench, metric: 'simulator CPU (another process, not counted)', value: round(cpuPercent(simA, simB)), unit: '% core' },
      { bench, metric: 'whole machine busy (2 cores)', value: round(machineBusy), unit: '% all' },
      { bench, metric: 'load average at the end', value: loadAverage(), unit: '' },
    ];
  } finally {
    for (const f of cleanup) await f();
  }
}

void runIfMain(import.meta.url, run);
