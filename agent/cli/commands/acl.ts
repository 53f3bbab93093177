import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../../config/load-config.js';
import { buildPolicy, PolicyError, renderMosquittoAcl, type GatewayGrant } from '../../../protocol/broker-policy.js';
import { UsageError, writeOut } from '../../../common/cli-kit.js';

interface AclOptions {
  config: string[];
  console: string[];
  out?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * `bwc-agent acl --config FILE [--config FILE]… [--console USER]…`: the
 * broker policy (mosquitto acl_file) for the gateways whose configurations
 * are given and the console users named. Run it again whenever a camera moves
 * to another gateway, then reload the broker.
 */
export function registerAclCommand(program: Command): void {
  program
    .command('acl')
    .description('the broker policy (mosquitto acl_file): each gateway publishes only for itself and its cameras, consoles read the fleet and send commands')
    .option('--config <file>', 'a gateway configuration (repeat for every gateway of the fleet)', collect, [])
    .option('--console <user>', 'broker user name of a console or platform worker (repeatable)', collect, [])
    .option('--out <file>', 'write the acl_file here instead of stdout')
    .option('--json', 'print the rules as one JSON document: {"prefix","users":[{"username","role","write","read"}]}')
    .action(async (opts: AclOptions) => {
      if (opts.config.length === 0) throw new UsageError('give --config FILE for each gateway (its agent.id, mqtt.username and devices make its rules)');
      const gateways: GatewayGrant[] = [];
      let prefix: string | undefined;
      for (const file of opts.config) {
        const c = (await loadConfig(file, process.env, { readSecrets: false })).config;
        if (prefix !== undefined && c.mqtt.topicPrefix !== prefix) {
          throw new UsageError(`${file} uses topic prefix ${c.mqtt.topicPrefix}, another configuration ${prefix}: one policy covers one prefix`);
        }
        prefix = c.mqtt.topicPrefix;
        gateways.push({ username: c.mqtt.username ?? c.agent.id, agentId: c.agent.id, devices: c.devices.map((d) => d.id) });
      }
      let rules;
      try {
        rules = buildPolicy({ prefix, gateways, consoles: opts.console });
      } catch (err) {
        if (err instanceof PolicyError) throw new UsageError(err.message);
        throw err;
      }
      const text = opts.json
        ? JSON.stringify({ prefix, users: rules }) + '\n'
        : renderMosquittoAcl(rules, `from ${opts.config.join(', ')}`);
      if (opts.out) {
        writeFileSync(opts.out, text, { mode: 0o644 });
        await writeOut(`wrote ${opts.out}: ${gateways.length} gateway(s), ${opts.console.length} console(s)\n`);
      } else {
        await writeOut(text);
      }
    });
}
