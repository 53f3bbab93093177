import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import { ChainBuilder, encodeCheckpoint, fixContent, leafOf, type AuthKind, type Checkpoint } from '../../protocol/device-auth.js';
import type { Topics } from '../../protocol/topics.js';
import type { MessageBuffer, StoredMessage } from '../buffer/message-buffer.js';
import { decodeFixPayload } from '../fix-payload.js';
import type { MqttSession } from '../mqtt/mqtt-session.js';

export interface CheckpointerOptions {
  session: MqttSession;
  topics: Topics;
  log: Logger;
  /** Seal and sign each device's chain this often, milliseconds. */
  intervalMs: number;
  /** The device's Ed25519 private key, or undefined when it has none (its data goes out unsigned). */
  keyOf: (deviceId: string) => KeyObject | undefined;
  /** State file: the last sealed seq per device and the checkpoints not yet acknowledged. */
  stateFile: string;
}

interface SavedCheckpoint { deviceId: string; firstSeq: number; count: number; tags: string; signature: string }
interface OpenRun { first: number; link: string; tags: string }
interface SavedState { lastSealed: Record<string, number>; pending: SavedCheckpoint[]; open?: Record<string, OpenRun> }

/** How often the open runs are saved: a crash leaves at most this much already-published data unsigned. */
const SAVE_OPEN_MS = 1000;

/**
 * Signs what the agent writes for each device (protocol/README.md, "Authentic
 * device data"): every message the buffer stores is chained in seq order as
 * it is written, and every intervalMs the chain of each device is sealed into
 * an AuthCheckpoint signed with the device key. Checkpoints are kept in a
 * small state file until the broker acknowledges them, so a restart or a
 * lost PUBACK only sends one again; messages resent with the same seq have
 * the same leaf, so the chain does not care how often or in which batch they
 * travel. The open run of each device is saved every second: after a crash
 * it is continued with what is still in the buffer, or sealed as it stands
 * when messages after it were already published; only what was published in
 * the last second before the crash stays unsigned.
 */
export class Checkpointer {
  private readonly chains = new Map<string, ChainBuilder>();
  private readonly lastSealed = new Map<string, number>();
  private pending: Checkpoint[] = [];
  private readonly inFlight = new Set<Checkpoint>();
  private readonly unsignedWarned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  /** Runs restored from the state file, not yet continued or sealed. */
  private readonly restored = new Map<string, OpenRun>();
  private dirty = false;

  constructor(private readonly o: CheckpointerOptions) {
    this.load();
    o.session.on('up', () => {
      this.inFlight.clear();
      this.flush();
    });
  }

  start(): void {
    this.timer = setInterval(() => this.sealAll(), this.o.intervalMs);
    this.timer.unref();
    this.saveTimer = setInterval(() => {
      if (this.dirty) this.save();
    }, SAVE_OPEN_MS);
    this.saveTimer.unref();
  }

  /** Seals what is open and keeps it for the next start (clean shutdown). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.saveTimer) clearInterval(this.saveTimer);
    this.timer = undefined;
    this.saveTimer = undefined;
    this.sealAll();
  }

  /** Messages just written to the buffer, with their seqs (agent.ts, after append). */
  observe(stored: readonly StoredMessage[]): void {
    for (const m of stored) {
      const key = this.o.keyOf(m.deviceId);
      if (!key) {
        if (!this.unsignedWarned.has(m.deviceId)) {
          this.unsignedWarned.add(m.deviceId);
          this.o.log.warn({ device: m.deviceId }, 'device has no device key (devices/<id>/device.key): its data goes out unsigned; provision it with --credentials keypair');
        }
        continue;
      }
      let leaf: Buffer;
      try {
        leaf = leafOfStored(m);
      } catch (err) {
        // Never in the way of the write path: this message goes out unsigned, and the run ends before it.
        this.o.log.error({ device: m.deviceId, seq: m.seq, err: String(err) }, 'cannot chain this message: it goes out unsigned');
        continue;
      }
      const chain = this.chainOf(m.deviceId);
      if (chain.needsSeal(m.seq)) this.seal(chain, key);
      chain.add(m.seq, leaf);
      this.dirty = true;
    }
  }

  /**
   * After a restart: chains again the messages of these devices still in the
   * buffer and not yet sealed (a crash lost the open run from memory).
   */
  recover(buffer: MessageBuffer, devices: Iterable<string>): void {
    for (const deviceId of devices) {
      if (!this.o.keyOf(deviceId)) continue;
      // Already sealed, or in the open run saved before the crash.
      const run = this.restored.get(deviceId);
      const after = Math.max(this.lastSealed.get(deviceId) ?? 0, run ? run.first + Buffer.from(run.tags, 'base64').length - 1 : 0);
      let cursor = 0;
      for (;;) {
        const rows = buffer.oldest({ deviceId, limit: 4096, afterId: cursor });
        if (rows.length === 0) break;
        cursor = rows[rows.length - 1]!.id;
        this.observe(rows.filter((r) => r.seq > after));
      }
    }
  }

  private chainOf(deviceId: string): ChainBuilder {
    let chain = this.chains.get(deviceId);
    if (!chain) {
      this.chains.set(deviceId, (chain = new ChainBuilder(deviceId)));
      const run = this.restored.get(deviceId);
      if (run) {
        this.restored.delete(deviceId);
        chain.restore(run);
      }
    }
    return chain;
  }

  sealAll(): void {
    // Runs restored from before a crash whose device wrote nothing since.
    for (const deviceId of [...this.restored.keys()]) this.chainOf(deviceId);
    for (const chain of this.chains.values()) {
      const key = this.o.keyOf(chain.deviceId);
      if (key && chain.pending > 0) this.seal(chain, key);
    }
  }

  /** Checkpoints sealed and not yet acknowledged by the broker. */
  get unacknowledged(): number {
    return this.pending.length;
  }

  private seal(chain: ChainBuilder, key: KeyObject): void {
    const c = chain.seal(key, { session: 0, sentMs: 0 });
    if (!c) return;
    this.lastSealed.set(c.header.deviceId, c.firstSeq + c.count - 1);
    this.pending.push(c);
    this.save();
    this.flush();
  }

  private flush(): void {
    if (!this.o.session.connected) return;
    for (const c of this.pending) {
      if (this.inFlight.has(c)) continue;
      this.inFlight.add(c);
      const payload = encodeCheckpoint({ ...c, header: { ...c.header, session: this.o.session.up?.session ?? 0, sentMs: Date.now() } });
      this.o.session.publish(this.o.topics.device(c.header.deviceId, 'auth'), payload, { qos: 1 }).then(
        () => {
          this.inFlight.delete(c);
          this.pending = this.pending.filter((p) => p !== c);
          this.save();
        },
        (err: unknown) => {
          // Kept: sent again on the next connection.
          this.inFlight.delete(c);
          this.o.log.debug({ err: String(err), device: c.header.deviceId }, 'checkpoint not acknowledged, kept for resend');
        },
      );
    }
  }

  private load(): void {
    if (!existsSync(this.o.stateFile)) return;
    try {
      const s = JSON.parse(readFileSync(this.o.stateFile, 'utf8')) as SavedState;
      for (const [d, seq] of Object.entries(s.lastSealed ?? {})) this.lastSealed.set(d, seq);
      for (const [d, run] of Object.entries(s.open ?? {})) this.restored.set(d, run);
      this.pending = (s.pending ?? []).map((p) => ({
        header: { deviceId: p.deviceId, seq: 0, session: 0, sentMs: 0 },
        firstSeq: p.firstSeq,
        count: p.count,
        tags: Buffer.from(p.tags, 'base64'),
        signature: Buffer.from(p.signature, 'base64'),
      }));
    } catch (err) {
      this.o.log.error({ err: String(err), file: this.o.stateFile }, 'checkpoint state unreadable: starting new chains; messages of the lost checkpoints stay unsigned');
    }
  }

  private save(): void {
    const s: SavedState = {
      lastSealed: Object.fromEntries(this.lastSealed),
      pending: this.pending.map((c) => ({ deviceId: c.header.deviceId, firstSeq: c.firstSeq, count: c.count, tags: Buffer.from(c.tags).toString('base64'), signature: Buffer.from(c.signature).toString('base64') })),
      open: Object.fromEntries([
        ...this.restored.entries(),
        ...[...this.chains.values()].map((c) => [c.deviceId, c.snapshot()] as const).filter((e): e is [string, OpenRun] => e[1] !== undefined),
      ]),
    };
    this.dirty = false;
    try {
      atomicWriteFileSync(this.o.stateFile, JSON.stringify(s), 0o600);
    } catch (err) {
      this.o.log.error({ err: String(err), file: this.o.stateFile }, 'cannot save the checkpoint state; pending checkpoints are kept in memory');
    }
  }
}

/** The leaf of a stored message: a fix by its quantised content, others by their body bytes. */
export function leafOfStored(m: StoredMessage): Buffer {
  if (m.kind === 'fix') return leafOf('fix', fixContent(decodeFixPayload(m.payload), m.seq));
  return leafOf(m.kind as AuthKind, m.payload);
}

/** Loads `<dataDir>/devices/<id>/device.key` once per device (undefined when absent or unusable). */
export function deviceKeyLoader(pathOf: (deviceId: string) => string, log: Logger): (deviceId: string) => KeyObject | undefined {
  const cache = new Map<string, KeyObject | undefined>();
  return (deviceId) => {
    if (cache.has(deviceId)) return cache.get(deviceId);
    let key: KeyObject | undefined;
    const file = pathOf(deviceId);
    if (existsSync(file)) {
      try {
        key = createPrivateKey(readFileSync(file, 'utf8'));
        if (key.asymmetricKeyType !== 'ed25519') {
          log.error({ device: deviceId, file }, 'device key is not Ed25519: data goes out unsigned');
          key = undefined;
        }
      } catch (err) {
        log.error({ device: deviceId, file, err: String(err) }, 'device key unreadable: data goes out unsigned');
      }
    }
    cache.set(deviceId, key);
    return key;
  };
}
