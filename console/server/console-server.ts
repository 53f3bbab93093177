import type { FastifyInstance } from 'fastify';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { CommandRole } from '../../protocol/command-signing.js';
import { Topics } from '../../protocol/topics.js';
import { openTrackStore } from '../store/open-store.js';
import type { TrackStore } from '../store/track-store.js';
import { Accounts } from './accounts.js';
import { Auth } from './auth.js';
import { ConsoleAudit } from './console-audit.js';
import { consoleClientId, FleetFeed } from './fleet-feed.js';
import { FleetState } from './fleet-state.js';
import { LiveRelay } from './live-relay.js';
import { CommandLinks, SpotService } from './spot-service.js';
import { buildWebServer, type MapSettings } from './web-server.js';

export interface ConsoleServerOptions {
  broker: string;
  host: string;
  port: number;
  dataDir: string;
  store: string;
  keys: Map<CommandRole, KeyObject>;
  prefix?: string;
  group?: string;
  clientId?: string;
  map?: Partial<MapSettings>;
  tilesDir?: string;
  proxyUserHeader?: string;
  proxyRoleHeader?: string;
  proxyFrom?: string[];
  warn?: (msg: string) => void;
}

/** The whole command-centre server, composed: store, broker feed, state, commands, web. */
export class ConsoleServer {
  private constructor(
    readonly url: string,
    readonly app: FastifyInstance,
    readonly feed: FleetFeed,
    readonly store: TrackStore,
    readonly links: CommandLinks,
    readonly state: FleetState,
    readonly audit: ConsoleAudit,
    readonly live: LiveRelay,
  ) {}

  static async start(o: ConsoleServerOptions): Promise<ConsoleServer> {
    mkdirSync(o.dataDir, { recursive: true });
    const topics = new Topics(o.prefix);
    const store = await openTrackStore(o.store, o.dataDir);
    const state = new FleetState();
    // Positions known from before a restart, until the fleet speaks again.
    for (const f of await store.latest()) state.fix(f, 0);
    const audit = new ConsoleAudit(join(o.dataDir, 'console-audit.log'));
    const feed = new FleetFeed({ broker: o.broker, topics, store, state, clientId: o.clientId ?? consoleClientId(o.dataDir), ...(o.group ? { group: o.group } : {}), ...(o.warn ? { warn: o.warn } : {}) });
    try {
      await feed.start();
    } catch (err) {
      await store.close();
      throw err;
    }
    const links = new CommandLinks({ broker: o.broker, topics, keys: o.keys });
    const spot = new SpotService(links, join(o.dataDir, 'spot'), state, audit);
    const live = new LiveRelay(links, audit);
    const auth = new Auth({ accounts: Accounts.load(o.dataDir), proxyFrom: o.proxyFrom ?? ['127.0.0.1', '::1', '::ffff:127.0.0.1'], ...(o.proxyUserHeader ? { proxyUserHeader: o.proxyUserHeader } : {}), ...(o.proxyRoleHeader ? { proxyRoleHeader: o.proxyRoleHeader } : {}) });
    const map: MapSettings = { tiles: o.map?.tiles ?? '', crs: o.map?.crs ?? 'wgs84', trailMinutes: o.map?.trailMinutes ?? 10 };
    const app = await buildWebServer({ auth, audit, state, store, links, spot, live, map, ...(o.tilesDir ? { tilesDir: o.tilesDir } : {}) });
    try {
      await app.listen({ host: o.host, port: o.port });
    } catch (err) {
      // The port is taken (a caller may try another): what was started goes, or its timers
      // and broker connection would keep the process alive.
      await new ConsoleServer('', app, feed, store, links, state, audit, live).stop();
      throw err;
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : o.port;
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    return new ConsoleServer(`http://${host}:${port}/`, app, feed, store, links, state, audit, live);
  }

  async stop(): Promise<void> {
    await this.app.close();
    await this.live.close();
    await this.links.close();
    await this.feed.stop();
    await this.store.close();
  }
}
