import { idProblem, SAFE_ID_RULE } from './identifiers.js';

/**
 * The one place that makes topic strings. Layout (see protocol/README.md):
 *
 *   {prefix}/agent/{agentId}/state            retained AgentState, birth + last will
 *   {prefix}/agent/{agentId}/reply            replies to agent commands
 *   {prefix}/agent/{agentId}/audit            retained AuditAnchor: the signed head of the agent's audit log
 *   {prefix}/dev/{deviceId}/live              live fix, compact live form (protocol/live-codec.ts)
 *   {prefix}/dev/{deviceId}/track             live TrackBatch (the older live form, `mqtt.liveForm: track`)
 *   {prefix}/dev/{deviceId}/track/hist        historical TrackBatch (backlog replay)
 *   {prefix}/dev/{deviceId}/status            retained Status (live)
 *   {prefix}/dev/{deviceId}/status/hist       Status from the backlog, not retained
 *   {prefix}/dev/{deviceId}/event             Event
 *   {prefix}/dev/{deviceId}/auth              AuthCheckpoint: signed hash chain over the device's messages
 *   {prefix}/dev/{deviceId}/cmd               CommandEnvelope in
 *   {prefix}/dev/{deviceId}/reply             Reply out
 *   {prefix}/dev/{deviceId}/media/{requestId} MediaChunk out
 *   {prefix}/register/{agentId}/request       registration by claim (JSON, see agent/technician/claim-registration.ts)
 *   {prefix}/register/{agentId}/reply         the platform's answer with the device credential
 *
 * Topics are addressed by camera, not by gateway: a camera docked on another
 * gateway keeps its topics, and the platform addresses it the same way.
 */
export const DEFAULT_PREFIX = 'bwc/v1';

export type DeviceChannel = 'live' | 'track' | 'track/hist' | 'status' | 'status/hist' | 'event' | 'cmd' | 'reply' | 'media' | 'auth';
/** Agents take commands only per device (dev/{id}/cmd): there is no agent command topic. */
export type AgentChannel = 'state' | 'reply' | 'audit';

/** Ids go into topic levels: no wildcards, separators, empty levels or dot names (protocol/identifiers.ts). */
export function checkTopicId(kind: string, id: string): string {
  const problem = idProblem(id);
  if (problem !== undefined) throw new Error(`${kind} id ${JSON.stringify(id)} cannot be a topic level: it ${problem}; use ${SAFE_ID_RULE}`);
  return id;
}

export class Topics {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    if (/[#+]/.test(prefix) || prefix.endsWith('/') || prefix.length === 0) {
      throw new Error(`topic prefix ${JSON.stringify(prefix)} must be non-empty, without wildcards or a trailing /`);
    }
  }

  agent(agentId: string, channel: AgentChannel): string {
    return `${this.prefix}/agent/${checkTopicId('agent', agentId)}/${channel}`;
  }

  device(deviceId: string, channel: Exclude<DeviceChannel, 'media'>): string {
    return `${this.prefix}/dev/${checkTopicId('device', deviceId)}/${channel}`;
  }

  media(deviceId: string, requestId: string): string {
    return `${this.prefix}/dev/${checkTopicId('device', deviceId)}/media/${checkTopicId('request', requestId)}`;
  }

  /**
   * Registration by claim: an agent holding only a restricted claim
   * credential asks for its device credential here (a broker ACL limits the
   * claim account to its own two topics).
   */
  registration(agentId: string): { request: string; reply: string } {
    const base = `${this.prefix}/register/${checkTopicId('agent', agentId)}`;
    return { request: `${base}/request`, reply: `${base}/reply` };
  }

  /** Subscription filter for one channel of every device (`+` for the device level). */
  allDevices(channel: DeviceChannel): string {
    return channel === 'media' ? `${this.prefix}/dev/+/media/+` : `${this.prefix}/dev/+/${channel}`;
  }

  allAgents(channel: AgentChannel): string {
    return `${this.prefix}/agent/+/${channel}`;
  }

  /**
   * MQTT 5 shared subscription, so that several consumers (consoles, platform
   * workers) split the fleet's messages between them; works on mosquitto,
   * EMQX, HiveMQ and VerneMQ alike.
   */
  shared(group: string, filter: string): string {
    return `$share/${checkTopicId('group', group)}/${filter}`;
  }

  /** Splits a received topic back into its parts; null when it is not ours. */
  parse(topic: string):
    | { kind: 'device'; deviceId: string; channel: DeviceChannel; requestId?: string }
    | { kind: 'agent'; agentId: string; channel: AgentChannel }
    | null {
    if (!topic.startsWith(this.prefix + '/')) return null;
    const rest = topic.slice(this.prefix.length + 1).split('/');
    if (rest[0] === 'dev' && rest.length >= 3) {
      const deviceId = rest[1]!;
      const tail = rest.slice(2).join('/');
      if (tail === 'live' || tail === 'track' || tail === 'track/hist' || tail === 'status' || tail === 'status/hist' || tail === 'event' || tail === 'cmd' || tail === 'reply' || tail === 'auth') {
        return { kind: 'device', deviceId, channel: tail };
      }
      if (rest[2] === 'media' && rest.length === 4) return { kind: 'device', deviceId, channel: 'media', requestId: rest[3]! };
      return null;
    }
    if (rest[0] === 'agent' && rest.length === 3) {
      const ch = rest[2];
      if (ch === 'state' || ch === 'reply' || ch === 'audit') return { kind: 'agent', agentId: rest[1]!, channel: ch };
    }
    return null;
  }
}
