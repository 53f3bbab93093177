import type { Logger } from 'pino';
import { loadConfig, type LoadedConfig } from '../../config/load-config.js';
import { encodeBody } from '../../protocol/codec.js';
import { BwcError, describeError } from '../../common/errors.js';
import { Agent } from '../agent.js';
import { attachConfigUpdates, type ConfigUpdateTarget } from '../commands/config-update.js';
import { withDeclaredVersion } from './config-version.js';

export interface SupervisorOptions {
  /** How long a restarted agent has to reach the broker before an update is rolled back (default 30 s). */
  upTimeoutMs?: number;
}

/**
 * Runs the agent from its configuration file and restarts it on a new
 * configuration when a remote update asks (agent/commands/config-update.ts):
 * the one place that owns the running Agent, so an update can stop it, try
 * the new configuration and fall back to the old one.
 */
export class AgentSupervisor implements ConfigUpdateTarget {
  private running: Agent;
  private loaded: LoadedConfig;

  private constructor(readonly file: string, agent: Agent, loaded: LoadedConfig, private readonly log: Logger, private readonly upTimeoutMs: number) {
    this.running = agent;
    this.loaded = loaded;
    attachConfigUpdates(agent.commands, this);
  }

  static async start(file: string, log: Logger, opts: SupervisorOptions = {}): Promise<AgentSupervisor> {
    const loaded = withDeclaredVersion(await loadConfig(file));
    const agent = await Agent.start(loaded, log);
    return new AgentSupervisor(file, agent, loaded, log, opts.upTimeoutMs ?? 30_000);
  }

  get agent(): Agent {
    return this.running;
  }

  current(): LoadedConfig {
    return this.loaded;
  }

  reply(deviceId: string, body: Record<string, unknown>): void {
    this.running.write([{ deviceId, kind: 'reply', timeMs: Date.now(), payload: encodeBody('Reply', body) }]);
  }

  async restart(next: LoadedConfig, requireUp: boolean): Promise<void> {
    this.log.info({ from: this.loaded.version, to: next.version }, 'restarting the agent on another configuration');
    await this.running.stop('configuration update');
    let agent: Agent;
    try {
      agent = await Agent.start(next, this.log);
    } catch (err) {
      throw new BwcError('AGENT_START', `the agent did not start: ${describeError(err)}`, { cause: err });
    }
    this.running = agent;
    this.loaded = next;
    attachConfigUpdates(agent.commands, this);
    if (!requireUp) return;
    try {
      await waitUp(agent, this.upTimeoutMs);
    } catch (err) {
      await agent.stop('configuration rolled back');
      throw err;
    }
  }

  /** Resolves with the number of messages kept in the buffer for the next start. */
  async stop(reason = 'shutdown'): Promise<number> {
    return this.running.stop(reason);
  }
}

function waitUp(agent: Agent, ms: number): Promise<void> {
  if (agent.session.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.session.off('up', onUp);
      reject(new BwcError('AGENT_NOT_UP', `no broker connection within ${Math.round(ms / 1000)} s`));
    }, ms);
    const onUp = () => {
      clearTimeout(timer);
      resolve();
    };
    agent.session.once('up', onUp);
  });
}
