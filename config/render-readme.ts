import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, type TSchema } from '@sinclair/typebox';
import { ConfigSchema } from './schema.js';
import { envName } from './env-overrides.js';
import { formatPath, isArraySchema, isObjectSchema, schemaFields, type FieldSchema, type SchemaField } from './schema-walk.js';

/**
 * config/README.md is rendered from the schema's descriptions, so the docs
 * cannot drift from the code: `node <out>/config/render-readme.js --write`
 * rewrites it; test/config/readme.test.ts fails when it is stale.
 */
export function renderConfigReadme(): string {
  const lines: string[] = [];
  lines.push('# Configuration');
  lines.push('');
  lines.push('<!-- Rendered from config/schema.ts by config/render-readme.ts: edit the schema, then run');
  lines.push('     `npx tsc -p . && node dist/config/render-readme.js --write`. A test fails when this file is stale. -->');
  lines.push('');
  lines.push('bwc-agent reads one YAML file (`bwc-agent run --config FILE`). Examples: `config/examples/`');
  lines.push('(`gateway.yaml`: a docking gateway with several cameras and USB discovery; `handheld.yaml`;');
  lines.push('`demo.yaml`). `bwc-agent config init --broker URL --data-dir DIR --out FILE` writes a minimal one.');
  lines.push('');
  lines.push('## How a file is read');
  lines.push('');
  lines.push('1. **YAML** is parsed; a syntax error is reported with its line and column. Duplicate keys are refused.');
  lines.push('2. **Environment overrides** are applied. Rule: `BWC_` followed by the path of the field, each level');
  lines.push('   in SCREAMING_SNAKE_CASE, levels joined by a double underscore: `mqtt.keepaliveS` ← `BWC_MQTT__KEEPALIVE_S=10`,');
  lines.push('   `agent.id` ← `BWC_AGENT__ID=gw-7`. Numbers and booleans (`true`/`false`/`1`/`0`) are parsed; a list takes a');
  lines.push('   JSON array, and a list of strings also a comma-separated list (`BWC_MQTT__BROKERS=mqtt://a,mqtt://b`).');
  lines.push('   Fields inside lists (devices, keys) have no variable of their own: set the whole list as JSON');
  lines.push('   (`BWC_DEVICES=\'[{"id":"CAM-1","gnss":"/dev/ttyUSB0"}]\'`). A variable of the form');
  lines.push('   `BWC_<SECTION>__…` that names no field is refused, so a typo is not silently ignored.');
  lines.push('3. **Defaults** fill every key left out (the tables below).');
  lines.push('4. **Validation** against the schema: every problem is reported with its path and reason, e.g.');
  lines.push('   `mqtt.keepaliveS: must be >= 5, got 2`; unknown keys are refused with their path. `bwc-agent config validate FILE`');
  lines.push('   prints them and exits with status 2. Nothing starts with an invalid file.');
  lines.push('5. **Paths** that are relative resolve against the folder of the configuration file.');
  lines.push('6. **Secrets** (the broker password, the TLS client key) are read from their own files, named by `…File` keys');
  lines.push('   marked *secret* below. A missing secret file, or one readable by every user, is refused (`chmod 600` it).');
  lines.push('   Secrets are kept apart from the configuration and never shown: `bwc-agent config show FILE` prints the');
  lines.push('   configuration with defaults filled and passwords in broker URLs masked.');
  lines.push('7. The result is **frozen**; its version (in the agent state message) is a hash of the file content.');
  lines.push('');
  lines.push('Turning TLS verification off takes an explicit `mqtt.tls.rejectUnauthorized: false`.');
  lines.push('');
  const fields = schemaFields(ConfigSchema);
  const top = Object.entries((ConfigSchema as unknown as { properties: Record<string, TSchema> }).properties);
  for (const [key, section] of top) {
    lines.push(`## \`${key}\``);
    lines.push('');
    lines.push(String((section as FieldSchema).description ?? ''));
    lines.push('');
    const rows = fields.filter((f) => f.path[0] === key && f.path.length > 1 && !(isObjectSchema(f.schema) && !optionalGroup(f)));
    if (rows.length === 0 && !isObjectSchema(section)) rows.push(...fields.filter((f) => f.path.length === 1 && f.path[0] === key));
    lines.push('| key | type | default | environment | description |');
    lines.push('| --- | --- | --- | --- | --- |');
    for (const f of rows) lines.push(row(f));
    lines.push('');
  }
  return lines.join('\n');
}

function optionalGroup(f: SchemaField): boolean {
  return isObjectSchema(f.schema) && f.schema.default === undefined;
}

function row(f: SchemaField): string {
  const s = f.schema;
  const name = formatPath(f.path);
  const env = f.path.includes('[]') || isObjectSchema(s) ? '' : `\`${envName(f.path)}\``;
  const def = s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : f.required ? '**required**' : '';
  const marks = [s.secret ? '*secret*' : '', s.fsPath && !s.secret ? '*path*' : ''].filter(Boolean).join(' ');
  const desc = [String(s.description ?? ''), marks].filter(Boolean).join(' ');
  return `| \`${name}\` | ${typeText(s)} | ${def} | ${env} | ${esc(desc)} |`;
}

function typeText(s: FieldSchema): string {
  const kind = s[Kind];
  const range = (): string => {
    const lo = s.minimum as number | undefined;
    const hi = s.maximum as number | undefined;
    return lo !== undefined && hi !== undefined ? ` ${lo}–${hi}` : '';
  };
  if (kind === 'Integer') return `integer${range()}`;
  if (kind === 'Number') return `number${range()}`;
  if (kind === 'Boolean') return 'boolean';
  if (kind === 'Union') {
    const members = (s as unknown as { anyOf: FieldSchema[] }).anyOf;
    return members.map((m) => ('const' in m ? `\`${JSON.stringify(m.const)}\`` : typeText(m))).join(' \\| ');
  }
  if (isArraySchema(s)) {
    const items = (s as unknown as { items: FieldSchema }).items;
    return isObjectSchema(items) ? 'list of mappings' : `list of ${typeText(items)}`;
  }
  if (isObjectSchema(s)) return 'mapping (optional)';
  if (kind === 'String') return s.expect ? `string: ${esc(s.expect)}` : 'string';
  return String(kind);
}

function esc(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export const readmePath = (repoRoot: string) => join(repoRoot, 'config', 'README.md');

// `node <out>/config/render-readme.js --write` (out = dist or dist-*): rewrite config/README.md.
const self = fileURLToPath(import.meta.url);
if (process.argv[1] && resolve(process.argv[1]) === self) {
  const root = resolve(dirname(self), '..', '..');
  const target = readmePath(root);
  const text = renderConfigReadme();
  if (process.argv.includes('--write')) {
    writeFileSync(target, text);
    console.log(`wrote ${target}`);
  } else {
    const current = (() => {
      try {
        return readFileSync(target, 'utf8');
      } catch {
        return '';
      }
    })();
    process.stdout.write(current === text ? 'config/README.md is current\n' : 'config/README.md is stale: run with --write\n');
    if (current !== text) process.exitCode = 1;
  }
}
