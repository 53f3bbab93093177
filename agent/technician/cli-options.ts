import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../../config/load-config.js';
import { UsageError } from '../../common/cli-kit.js';

/** Where the agent's configuration is when a technician command is not told (the systemd unit's). */
export const DEFAULT_CONFIG = '/etc/bwc-agent/config.yaml';

/** The options every technician command that looks at hardware shares. */
export function hardwareOptions(cmd: Command): Command {
  return cmd
    .option('--sys-root <dir>', 'sysfs root for USB discovery (a container or a test tree)', '/sys')
    .option('--dev-root <dir>', 'device folder matching --sys-root', '/dev');
}

/** Collects a repeatable option. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The configuration named by --config, else the default one if it exists;
 * undefined when neither (commands that can work without it say what they miss).
 */
export async function optionalConfig(file: string | undefined): Promise<LoadedConfig | undefined> {
  if (file) return loadConfig(file);
  if (process.env.BWC_CONFIG) return loadConfig(process.env.BWC_CONFIG);
  if (existsSync(DEFAULT_CONFIG)) return loadConfig(DEFAULT_CONFIG);
  return undefined;
}

export async function requiredConfig(file: string | undefined, what: string): Promise<LoadedConfig> {
  const c = await optionalConfig(file);
  if (!c) throw new UsageError(`${what} needs the agent configuration: pass --config FILE (or set BWC_CONFIG; default ${DEFAULT_CONFIG}, which does not exist)`);
  return c;
}

export function positiveMs(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > 3_600_000) throw new UsageError(`${name} must be a number of milliseconds from 1 to 3600000, got ${JSON.stringify(v)}`);
    return n;
  };
}
