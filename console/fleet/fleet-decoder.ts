import { decodeMessage } from '../../protocol/codec.js';
import { decodeTrackBatch } from '../../protocol/track-codec.js';
import { LiveReferences, type LiveFix } from '../../protocol/live-codec.js';
import { enumType } from '../../protocol/schema.js';
import { fixToJson } from '../../protocol/fix.js';
import type { Topics } from '../../protocol/topics.js';
import { describeError } from '../../common/errors.js';

/** One decoded fleet message, as `watch --jsonl` prints it (fix records follow the CLI contract). */
export type FleetRecord = Record<string, unknown> & { type: string; device?: string; seq?: number };

/** Enum value (number or name) → short lower-case name: RECORDING_STATE_PRE_RECORD → pre_record. */
export function enumName(enumNameStr: string, value: unknown, prefix: string): string {
  const name = typeof value === 'number' ? enumType(enumNameStr).valuesById[value] ?? String(value) : String(value ?? '');
  return name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : name.toLowerCase();
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : v === undefined || v === null ? undefined : Number(v);
}

/**
 * Decodes what a fleet subscriber receives. Stateful because of the compact
 * live form: a compact live fix is placed against the last live fix of its
 * device (protocol/live-codec.ts), so one decoder must see a subscriber's
 * messages in the order they came. Compact fixes that came before any full
 * one wait inside it and come out with the next full form.
 */
export class FleetDecoder {
  readonly live = new LiveReferences();
  /** The live fixes of the last `decode` (for the authenticity check of `live` messages). */
  lastLiveFixes: LiveFix[] = [];

  constructor(private readonly topics: Topics) {}

  decode(topic: string, payload: Buffer, receivedMs = Date.now()): FleetRecord[] {
    this.lastLiveFixes = [];
    return decodeFleetMessage(this.topics, topic, payload, this, receivedMs);
  }
}

function decodeFleetMessage(topics: Topics, topic: string, payload: Buffer, state: FleetDecoder, receivedMs: number): FleetRecord[] {
  const where = topics.parse(topic);
  if (!where) return [];
  try {
    if (where.kind === 'agent') {
      if (where.channel !== 'state') return [];
      const m = decodeMessage<Record<string, unknown>>('AgentState', payload);
      return [{ type: 'agent', agent: where.agentId, online: Boolean(m.online), session: num(m.session) ?? 0, version: m.agentVersion, devices: m.devices ?? [], config: m.configVersion, ...(m.reason ? { reason: m.reason } : {}) }];
    }
    const device = where.deviceId;
    switch (where.channel) {
      case 'live': {
        const fixes = state.live.decode(device, payload, receivedMs);
        state.lastLiveFixes = fixes;
        return fixes.map((f) => ({ type: 'fix', ...fixToJson(f.fix, { device, seq: f.seq, historical: false }) }));
      }
      case 'track':
      case 'track/hist': {
        const b = decodeTrackBatch(payload);
        return b.fixes.map((f, i) => ({ type: 'fix', ...fixToJson(f, { device, seq: b.seqs[i]!, historical: b.historical }) }));
      }
      case 'status':
      case 'status/hist': {
        const m = decodeMessage<Record<string, any>>('Status', payload);
        const sats: Record<string, { used: number; inView: number }> = {};
        for (const s of m.gnss?.sats ?? []) sats[enumName('Constellation', s.constellation, 'CONSTELLATION_')] = { used: num(s.used) ?? 0, inView: num(s.inView) ?? 0 };
        return [{
          type: 'status', device, seq: m.header?.seq,
          ...(where.channel === 'status/hist' ? { historical: true } : {}),
          session: num(m.header?.session) ?? 0,
          ...(num(m.timeMs) ? { observed: new Date(num(m.timeMs)!).toISOString() } : {}),
          ...(m.agentId ? { agent: m.agentId } : {}),
          online: Boolean(m.online),
          recording: enumName('RecordingState', m.recording, 'RECORDING_STATE_'),
          ...(m.hasBattery ? { battery: num(m.batteryPct) } : {}),
          charging: Boolean(m.charging),
          storageFree: num(m.storageFreeBytes), storageTotal: num(m.storageTotalBytes),
          gnss: { mode: num(m.gnss?.mode) ?? 0, hdop: (num(m.gnss?.hdopX10) ?? 0) / 10, sats, lastFixAgeMs: num(m.gnss?.lastFixAgeMs) },
          clocks: { cameraMinusGnssMs: num(m.clocks?.cameraOffsetMs) ?? 0, systemMinusGnssMs: num(m.clocks?.systemOffsetMs) ?? 0, gnssValid: Boolean(m.clocks?.gnssTimeValid) },
          ...(m.officer ? { officer: m.officer } : {}),
          ...(m.serial ? { serial: m.serial, model: m.model, firmware: m.firmware } : {}),
          counters: m.counters ?? {},
        }];
      }
      case 'event': {
        const m = decodeMessage<Record<string, any>>('Event', payload);
        const p = m.position;
        return [{
          type: 'event', device, seq: m.header?.seq,
          event: enumName('EventType', m.type, 'EVENT_TYPE_'),
          time: new Date(num(m.timeMs) ?? 0).toISOString(),
          ...(p ? { lat: (num(p.latE7) ?? 0) / 1e7, lon: (num(p.lonE7) ?? 0) / 1e7 } : {}),
          ...(m.detail ? { detail: m.detail } : {}),
          ...(m.issuer ? { issuer: m.issuer } : {}),
          ...(m.value !== undefined && num(m.value) !== 0 ? { value: num(m.value) } : {}),
          // GNSS discontinuity: where the track restarts (lat/lon above: where it was).
          ...(m.newPosition ? { to: { lat: (num(m.newPosition.latE7) ?? 0) / 1e7, lon: (num(m.newPosition.lonE7) ?? 0) / 1e7, time: new Date(num(m.newPosition.timeMs) ?? 0).toISOString() } } : {}),
        }];
      }
      case 'reply': {
        const m = decodeMessage<Record<string, any>>('Reply', payload);
        return [{ type: 'reply', device, seq: m.header?.seq, command: m.commandId, status: enumName('ReplyStatus', m.status, 'REPLY_STATUS_'), reasonCode: enumName('ReasonCode', m.reasonCode, 'REASON_'), reason: m.reason }];
      }
      default:
        return [];
    }
  } catch (err) {
    return [{ type: 'error', topic, error: describeError(err) }];
  }
}
