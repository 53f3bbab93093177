import type { Command } from 'commander';
import { resolve } from 'node:path';
import { untilStopSignal, UsageError, writeOut } from '../../../common/cli-kit.js';
import { DEFAULT_PREFIX } from '../../../protocol/topics.js';
import { Accounts } from '../../server/accounts.js';
import { readHeldKeys } from '../../server/command-keys-held.js';
import { ConsoleServer } from '../../server/console-server.js';

interface ServeOptions {
  broker: string;
  listen: string;
  dataDir: string;
  store: string;
  key: string[];
  prefix: string;
  group?: string;
  tiles: string;
  tilesDir?: string;
  crs: string;
  trailMinutes: string;
  proxyUserHeader?: string;
  proxyRoleHeader?: string;
  proxyFrom: string[];
}

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen takes HOST:PORT, e.g. 127.0.0.1:8080, got ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2]!, port };
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('the command-centre web console: live map, fleet, alarms, spot checks, track replay; prints "console: http://HOST:PORT/" when it listens')
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .option('--listen <host:port>', 'address to serve on', '127.0.0.1:8080')
    .option('--data-dir <dir>', 'accounts, audit, track store (SQLite), spot-check files', 'bwc-console-data')
    .option('--store <store>', 'track store: sqlite (in --data-dir) or postgres://USER@HOST:PORT/DB', 'sqlite')
    .option('--key <file.key>', 'a command-signing key the console may use for users of its role (supervisor.key, platform.key); repeatable', collect, [])
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--group <name>', 'share the track ingest with other consoles of this group ($share/NAME/...)')
    .option('--tiles <template>', 'basemap tile URL template, e.g. http://tiles.local/{z}/{x}/{y}.png (default: none, a grid)', '')
    .option('--tiles-dir <dir>', 'serve an offline basemap from DIR/Z/X/Y.png at /tiles/{z}/{x}/{y}.png')
    .option('--crs <crs>', 'datum of the basemap: wgs84, gcj02 (Chinese maps) or bd09 (Baidu)', 'wgs84')
    .option('--trail-minutes <n>', 'trail length on the live map, minutes', '10')
    .option('--proxy-user-header <name>', 'trust this header for the user name (a reverse proxy that authenticates users)')
    .option('--proxy-role-header <name>', 'with --proxy-user-header: the header giving the role (else the local account\'s role)')
    .option('--proxy-from <addr>', 'peer address the proxy headers are accepted from; repeatable (default loopback)', collect, [])
    .action(async (opts: ServeOptions) => serve(opts));
}

async function serve(opts: ServeOptions): Promise<void> {
  const { host, port } = parseListen(opts.listen);
  if (!['wgs84', 'gcj02', 'bd09'].includes(opts.crs)) throw new UsageError(`--crs must be wgs84, gcj02 or bd09, got ${JSON.stringify(opts.crs)}`);
  const trailMinutes = Number(opts.trailMinutes);
  if (!Number.isInteger(trailMinutes) || trailMinutes < 1 || trailMinutes > 1440) throw new UsageError('--trail-minutes must be an integer from 1 to 1440');
  const tilesTemplate = opts.tilesDir && !opts.tiles ? '/tiles/{z}/{x}/{y}.png' : opts.tiles;
  const keys = readHeldKeys(opts.key);
  const dataDir = resolve(opts.dataDir);
  const accounts = Accounts.load(dataDir);
  if (accounts.size === 0 && !opts.proxyUserHeader) {
    process.stderr.write(`bwc-console serve: no accounts yet; add one with: bwc-console user add NAME --role supervisor --password-file FILE --data-dir ${dataDir}\n`);
  }
  const server = await ConsoleServer.start({
    broker: opts.broker, host, port, dataDir, store: opts.store, keys, prefix: opts.prefix, ...(opts.group ? { group: opts.group } : {}),
    map: { tiles: tilesTemplate, crs: opts.crs as 'wgs84', trailMinutes }, ...(opts.tilesDir ? { tilesDir: opts.tilesDir } : {}),
    ...(opts.proxyUserHeader ? { proxyUserHeader: opts.proxyUserHeader } : {}), ...(opts.proxyRoleHeader ? { proxyRoleHeader: opts.proxyRoleHeader } : {}),
    ...(opts.proxyFrom.length ? { proxyFrom: opts.proxyFrom } : {}),
    warn: (m) => process.stderr.write(`bwc-console serve: ${m}\n`),
  });
  // Listening for the signals before the URL is out: whoever read it may stop us at once.
  const stopped = untilStopSignal();
  await writeOut(`console: ${server.url}\n`);
  await stopped;
  await server.stop();
}
