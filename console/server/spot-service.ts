import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { BwcError } from '../../common/errors.js';
import type { CommandRole } from '../../protocol/command-signing.js';
import type { Topics } from '../../protocol/topics.js';
import { connectConsole } from '../fleet/broker-connect.js';
import { CommandLink } from '../spot-check/command-link.js';
import { pickRandom } from '../spot-check/fleet-status.js';
import { Progress } from '../spot-check/progress.js';
import { runSpotCheck, type SpotKind } from '../spot-check/spot-check-runner.js';
import type { ConsoleAudit } from './console-audit.js';
import type { FleetState } from './fleet-state.js';

export interface SpotJob {
  id: string;
  device: string;
  kind: 'snapshot' | 'clip';
  user: string;
  state: 'running' | 'done';
  startedMs: number;
  result?: 'ok' | 'rejected' | 'failed';
  reason?: string;
  bytes?: number;
  /** The agent's hashes matched what arrived. */
  sha256Ok?: boolean;
  /** SHA-256 of the file as kept here (hex). */
  sha256?: string;
  file?: string;
  contentType?: string;
}

export interface CommandLinksOptions {
  broker: string;
  topics: Topics;
  keys: Map<CommandRole, KeyObject>;
}

/** One reconnecting broker connection and command link per held key, made on first use. */
export class CommandLinks {
  private readonly links = new Map<CommandRole, Promise<CommandLink>>();
  private readonly clients: MqttClient[] = [];

  constructor(private readonly o: CommandLinksOptions) {}

  has(role: string): role is CommandRole {
    return this.o.keys.has(role as CommandRole);
  }

  link(role: CommandRole): Promise<CommandLink> {
    let l = this.links.get(role);
    if (!l) {
      const key = this.o.keys.get(role);
      if (!key) throw new BwcError('NO_KEY', `this console holds no ${role} key (start it with --key ${role}.key)`);
      l = connectConsole(this.o.broker, { reconnectPeriod: 1000 }).then((client) => {
        client.on('error', () => undefined);
        this.clients.push(client);
        return new CommandLink({ client, topics: this.o.topics, privateKey: key, role });
      });
      l.catch(() => this.links.delete(role));
      this.links.set(role, l);
    }
    return l;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

/**
 * Snapshots and clips asked for in the browser, run by the same code as
 * `bwc-console spot-check` (console/spot-check), on the server, with the
 * key of the user's role. Files are kept under the data folder; every
 * request and every download is audited with the user's name.
 */
export class SpotService {
  readonly jobs = new Map<string, SpotJob>();

  constructor(
    private readonly links: CommandLinks,
    private readonly outDir: string,
    private readonly state: FleetState,
    private readonly audit: ConsoleAudit,
  ) {}

  /** Devices for "spot check N random recording officers": online and recording. */
  pickRecording(n: number): string[] {
    const pool = [...this.state.devices.values()].filter((d) => d.online && d.recording === 'recording').map((d) => d.device);
    return pickRandom(pool, n);
  }

  async start(user: string, role: CommandRole, kind: 'snapshot' | 'clip', devices: string[]): Promise<SpotJob[]> {
    const link = await this.links.link(role);
    return devices.map((device) => {
      const job: SpotJob = { id: randomUUID(), device, kind, user, state: 'running', startedMs: Date.now() };
      this.jobs.set(job.id, job);
      this.audit.record({ user, role, action: `spot-check.${kind}`, device, job: job.id, keyId: link.keyId });
      void this.run(link, job, role);
      return job;
    });
  }

  private async run(link: CommandLink, job: SpotJob, role: string): Promise<void> {
    const settings = { outDir: this.outDir, durationS: 10, fps: 2, quality: 50, maxBitrateKbps: 0, keepaliveS: 5, stallMs: 10_000, maxResumes: 10 };
    const officer = this.state.devices.get(job.device)?.officer;
    const r = await runSpotCheck(link, job.device, job.kind as SpotKind, settings, new Progress(undefined), officer?.number);
    const file = r.files[0];
    Object.assign(job, {
      state: 'done', result: r.result, reason: r.reason, bytes: r.bytes, sha256Ok: r.sha256_ok,
      ...(file ? { file, sha256: await sha256File(file), contentType: job.kind === 'snapshot' ? 'image/jpeg' : contentTypeOf(file) } : {}),
    });
    this.audit.record({ user: job.user, role, action: `spot-check.${job.kind}.result`, device: job.device, job: job.id, result: r.result, reason: r.reason, ...(job.sha256 ? { sha256: job.sha256 } : {}) });
  }

  fileName(job: SpotJob): string {
    return basename(job.file ?? join(this.outDir, 'none'));
  }
}

function contentTypeOf(file: string): string {
  if (file.endsWith('.mp4')) return 'video/mp4';
  if (file.endsWith('.mjpeg')) return 'video/x-motion-jpeg';
  if (file.endsWith('.jpg')) return 'image/jpeg';
  return 'application/octet-stream';
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}
