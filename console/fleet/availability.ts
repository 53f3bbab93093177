/**
 * Whether a camera is available, from the retained state alone (Sparkplug's
 * DDEATH rule, protocol/README.md "Availability"): a device is available
 * while its latest status says `online` AND the agent that status names
 * (`agent_id`) is online in its retained state with the same session. The
 * agent's last will is one message for all its devices: when the broker
 * publishes it (a SIGKILL, a power cut, a lost link after 1.5 × keepalive),
 * every device of that agent becomes unavailable at once, although their own
 * retained statuses still say online.
 *
 * A platform feeds it every status (retained or live, not the `status/hist`
 * backlog) and every agent state, and reads `get(device)`.
 */
export interface DeviceAvailability {
  available: boolean;
  /** Why not: 'no status', 'device offline', 'agent offline', 'agent unknown', 'agent session changed'. */
  reason?: string;
  agent?: string;
}

interface StatusSeen {
  online: boolean;
  agentId?: string;
  session: number;
  seq: number;
}

interface AgentSeen {
  online: boolean;
  session: number;
}

export class FleetAvailability {
  private readonly statuses = new Map<string, StatusSeen>();
  private readonly agents = new Map<string, AgentSeen>();

  /** A status of `device` (header.seq and header.session, Status.online and agent_id). Older seqs do not replace newer ones. */
  status(device: string, s: StatusSeen): void {
    const prev = this.statuses.get(device);
    if (prev && prev.seq > s.seq && prev.agentId === s.agentId) return;
    this.statuses.set(device, s);
  }

  /** An AgentState: an "offline" from an older session than the last "online" is a stale will and changes nothing. */
  agent(agentId: string, a: AgentSeen): void {
    const prev = this.agents.get(agentId);
    if (prev && a.session < prev.session) return;
    this.agents.set(agentId, a);
  }

  get(device: string): DeviceAvailability {
    const s = this.statuses.get(device);
    if (!s) return { available: false, reason: 'no status' };
    if (!s.online) return { available: false, reason: 'device offline', agent: s.agentId };
    // A status from an agent too old to name itself: its own word is all there is.
    if (!s.agentId) return { available: true };
    const a = this.agents.get(s.agentId);
    if (!a) return { available: false, reason: 'agent unknown', agent: s.agentId };
    if (!a.online) return { available: false, reason: 'agent offline', agent: s.agentId };
    if (a.session !== s.session) return { available: false, reason: 'agent session changed', agent: s.agentId };
    return { available: true, agent: s.agentId };
  }

  devices(): string[] {
    return [...this.statuses.keys()].sort();
  }

  /** The devices whose availability an update of agent `agentId` may change. */
  devicesOf(agentId: string): string[] {
    return this.devices().filter((d) => this.statuses.get(d)!.agentId === agentId);
  }
}
