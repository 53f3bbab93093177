import type { Command } from 'commander';
import { scenarioHelp } from '../../../sim/faults/scenarios.js';
import { Simulator, type SimCameraPorts } from '../../../sim/simulator.js';
import { intOption, UsageError, untilStopSignal, writeOut } from '../../../common/cli-kit.js';

interface SimCliOptions {
  cameras: number;
  scenario: string;
  nmea?: string;
  replaySpeed: number;
  footage?: string;
  rate: number;
  tcp?: boolean;
  json?: boolean;
  seed: number;
  portDir?: string;
  centre?: { lat: number; lon: number };
  idPrefix: string;
  baud?: number;
}

function rateOption(value: string): number {
  const n = Number(value);
  if (n !== 1 && n !== 5 && n !== 10) throw new UsageError(`--rate must be 1, 5 or 10 (Hz), got ${JSON.stringify(value)}`);
  return n;
}

function speedOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1000) throw new UsageError(`--replay-speed must be a number above 0 and at most 1000, got ${JSON.stringify(value)}`);
  return n;
}

function centreOption(value: string): { lat: number; lon: number } {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(value);
  const lat = m ? Number(m[1]) : NaN, lon = m ? Number(m[2]) : NaN;
  if (!m || Math.abs(lat) >= 85 || Math.abs(lon) > 180) throw new UsageError(`--centre must be LAT,LON in degrees (e.g. 30.04,121.15), got ${JSON.stringify(value)}`);
  return { lat, lon };
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('simulated cameras on real serial ports (pseudo-terminals) or TCP, until stopped (Ctrl-C or SIGTERM)')
    .option('--cameras <n>', 'number of cameras', intOption('--cameras', 1, 256), 1)
    .option('--scenario <name>', 'what happens to the cameras (see below)', 'patrol')
    .option('--nmea <file>', 'replay this NMEA capture (# lines skipped) instead of a simulated patrol; loops at its end')
    .option('--replay-speed <x>', 'replay pace: 1 = as recorded, 10 = ten times faster', speedOption, 1)
    .option('--footage <dir>', 'where the cameras keep their recordings (default: a temp folder, removed on exit)')
    .option('--rate <hz>', 'GNSS epochs per second: 1, 5 or 10', rateOption, 1)
    .option('--tcp', 'serve tcp://127.0.0.1:N ports instead of pseudo-terminals')
    .option('--json', 'print one JSON line per camera when its ports are ready: {"device","port","control"}')
    .option('--seed <n>', 'same seed, same patrols and faults', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--port-dir <dir>', 'where the pseudo-terminal links go (default: a temp folder)')
    .option('--centre <lat,lon>', 'centre of the street grid (default Yuyao, 30.04,121.15)', centreOption)
    .option('--id-prefix <prefix>', 'device ids are this plus 4 digits', 'BWC-')
    .option('--baud <rate>', 'receivers send at this UART rate: a host opening the pty at another rate reads garbage (for baud detection)', intOption('--baud', 50, 4_000_000))
    .addHelpText(
      'after',
      `
Scenarios:
${scenarioHelp()}

Each camera has a GNSS port (NMEA 0183 4.10: GNRMC, GNGGA, GNGSA per system,
GPGSV/GLGSV/BDGSV, GNVTG, GNZDA) and a control port (the reference camera
protocol). Open the GNSS port at any baud rate (unless --baud), e.g.:
  bwc-agent sim --cameras 2 --json
  bwc-agent nmea decode /tmp/bwc-sim-XXXX/BWC-0001-gnss --jsonl`,
    )
    .action(async (opts: SimCliOptions) => {
      const sim = new Simulator({
        cameras: opts.cameras,
        scenario: opts.scenario,
        nmeaFile: opts.nmea,
        replaySpeed: opts.replaySpeed,
        footageDir: opts.footage,
        rateHz: opts.rate as 1 | 5 | 10,
        transport: opts.tcp ? 'tcp' : 'pty',
        seed: opts.seed,
        portDir: opts.portDir,
        centre: opts.centre,
        idPrefix: opts.idPrefix,
        baud: opts.baud,
      });
      // Stop on a signal even while still starting: no socat may outlive us.
      const stopSignal = untilStopSignal();
      try {
        const started = sim.start();
        const first = await Promise.race([started.then((p) => ({ ports: p })), stopSignal.then(() => undefined)]);
        if (first) {
          await writeOut(opts.json ? first.ports.map((p) => JSON.stringify(p) + '\n').join('') : table(first.ports, opts));
          await stopSignal;
        } else await started.catch(() => {});
      } finally {
        await sim.stop();
      }
    });
}

function table(ports: SimCameraPorts[], opts: SimCliOptions): string {
  const rows = [['device', 'gnss port', 'control port'], ...ports.map((p) => [p.device, p.port, p.control])];
  const w = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]}`);
  const source = opts.nmea ? `replaying ${opts.nmea} at ${opts.replaySpeed}x` : `${opts.rate} Hz patrol`;
  return `${lines.join('\n')}\n\n${ports.length} simulated camera(s), scenario ${opts.scenario}, ${source}. Ctrl-C stops.\n`;
}
