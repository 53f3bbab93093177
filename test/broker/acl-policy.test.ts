import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort, startConfiguredMosquitto } from '../helpers/mosquitto.js';
import { runCli, tempDir, writeConfig } from '../technician/rig.js';
import type { TapTest } from '../helpers/tap-test.js';

/**
 * The generated policy on a real mosquitto with passwords and the acl_file
 * from `bwc-agent acl`: two gateways, each holding its own cameras, and a
 * console. What a gateway publishes outside its grant never reaches anyone.
 */

function gatewayConfig(dir: string, broker: string, agentId: string, devices: string[]): string {
  const file = writeConfig(dir, broker);
  const list = devices.map((d) => `\n  - id: ${d}\n    gnss: tcp://127.0.0.1:1`).join('');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"gw-test"', `"${agentId}"`).replace(/^mqtt:\n/m, `mqtt:\n  username: ${agentId}-user\n`).replace('devices: []', `devices:${list}`));
  return file;
}

interface Seen { topic: string; text: string }

async function client(t: TapTest, url: string, user: string): Promise<MqttClient & { seen: Seen[] }> {
  const c = (await mqtt.connectAsync(url, { username: user, password: `${user}-pw`, protocolVersion: 5, reconnectPeriod: 0 })) as MqttClient & { seen: Seen[] };
  c.seen = [];
  c.on('message', (topic, payload) => c.seen.push({ topic, text: payload.toString() }));
  t.teardown(() => c.endAsync(true));
  return c;
}

/** Publishes and reports the broker's answer: 0 accepted, otherwise the MQTT 5 reason code. */
async function publish(c: MqttClient, topic: string, text: string): Promise<number> {
  try {
    const r = await c.publishAsync(topic, text, { qos: 1 });
    return (r as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** Waits until `c` has seen a message with this text (a marker sent after the messages under test). */
async function until(c: { seen: Seen[] }, text: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!c.seen.some((s) => s.text === text)) {
    if (Date.now() > deadline) throw new Error(`marker ${text} never arrived`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('bwc-agent acl: a gateway publishes only for itself and its cameras; a console reads the fleet and commands', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const cfgA = gatewayConfig(tempDir(t), url, 'gw-a', ['CAM-A1', 'CAM-A2']);
  const cfgB = gatewayConfig(tempDir(t), url, 'gw-b', ['CAM-B1']);
  const aclFile = join(dir, 'acl');
  const r = await runCli(['acl', '--config', cfgA, '--config', cfgB, '--console', 'console', '--out', aclFile]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /2 gateway\(s\), 1 console/);
  const acl = readFileSync(aclFile, 'utf8');
  t.match(acl, /user gw-a-user\ntopic write bwc\/v1\/agent\/gw-a\/state/);
  t.notMatch(acl, /topic (write|readwrite) bwc\/v1\/dev\/\+\/(track|status|event)/, 'no gateway may write every camera');

  const json = await runCli(['acl', '--config', cfgA, '--config', cfgB, '--console', 'console', '--json']);
  const policy = JSON.parse(json.stdout);
  t.same(policy.users.map((u: { username: string; role: string }) => [u.username, u.role]), [['gw-a-user', 'gateway'], ['gw-b-user', 'gateway'], ['console', 'console']]);

  const pwFile = join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', pwFile, 'gw-a-user', 'gw-a-user-pw']);
  for (const u of ['gw-b-user', 'console', 'stranger']) execFileSync('mosquitto_passwd', ['-b', pwFile, u, `${u}-pw`]);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${pwFile}`, `acl_file ${aclFile}`, ''].join('\n'));
  for (const f of [pwFile, aclFile, conf]) chmodSync(f, 0o644);
  await startConfiguredMosquitto(t, conf, port);

  const consoleC = await client(t, url, 'console');
  await consoleC.subscribeAsync(['bwc/v1/dev/#', 'bwc/v1/agent/#'], { qos: 1 });
  const gwA = await client(t, url, 'gw-a-user');
  const gwB = await client(t, url, 'gw-b-user');
  const stranger = await client(t, url, 'stranger');
  await gwA.subscribeAsync(['bwc/v1/dev/CAM-A1/cmd', 'bwc/v1/dev/CAM-B1/cmd', 'bwc/v1/dev/+/track'], { qos: 1 });
  await gwB.subscribeAsync(['bwc/v1/dev/CAM-B1/cmd'], { qos: 1 });

  // Allowed: its own agent state and its own cameras' channels.
  const allowed = ['bwc/v1/agent/gw-a/state', 'bwc/v1/dev/CAM-A1/track', 'bwc/v1/dev/CAM-A2/status', 'bwc/v1/dev/CAM-A1/event', 'bwc/v1/dev/CAM-A1/auth', 'bwc/v1/dev/CAM-A1/media/r1', 'bwc/v1/dev/CAM-A1/track/hist', 'bwc/v1/dev/CAM-A1/status/hist', 'bwc/v1/agent/gw-a/audit'];
  for (const topic of allowed) t.equal(await publish(gwA, topic, `ok ${topic}`), 0, `gw-a may publish ${topic}`);
  // Refused: as another camera, another gateway, a command, outside the layout.
  const refused = ['bwc/v1/dev/CAM-B1/track', 'bwc/v1/dev/CAM-B1/event', 'bwc/v1/agent/gw-b/state', 'bwc/v1/dev/CAM-A1/cmd', 'bwc/v1/dev/CAM-NEW/track', 'bwc/v1/other'];
  const codes: number[] = [];
  for (const topic of refused) codes.push(await publish(gwA, topic, `forged ${topic}`));
  await publish(stranger, 'bwc/v1/dev/CAM-A1/track', 'forged by a user without a grant');
  await publish(gwA, 'bwc/v1/dev/CAM-A1/track', 'marker-1');
  await until(consoleC, 'marker-1');
  const seenByConsole = consoleC.seen.map((s) => s.topic);
  for (const topic of allowed) t.ok(seenByConsole.includes(topic), `console received ${topic}`);
  t.same(consoleC.seen.filter((s) => s.text.startsWith('forged')), [], 'the console saw none of the refused publishes');
  t.ok(codes.every((c) => c === 135), `mosquitto answered 135 (not authorised) to every refused publish: ${codes.join(',')}`);

  // A gateway reads no other camera's data and no other camera's commands.
  await publish(gwB, 'bwc/v1/dev/CAM-B1/track', 'b-track');
  await publish(consoleC, 'bwc/v1/dev/CAM-B1/cmd', 'command for B1');
  // Commands go to cameras only: there is no agent command topic to write.
  t.equal(await publish(consoleC, 'bwc/v1/agent/gw-a/cmd', 'command for gw-a'), 135, 'no agent command topic');
  await publish(consoleC, 'bwc/v1/dev/CAM-A1/cmd', 'command for A1');
  await until(gwA, 'command for A1');
  await until(gwB, 'command for B1');
  await until(consoleC, 'b-track');
  t.notOk(gwA.seen.some((s) => s.text === 'command for B1' || s.text === 'b-track'), 'gw-a reads neither B1 commands nor B1 tracks');
  t.equal(await publish(stranger, 'bwc/v1/dev/CAM-B1/cmd', 'forged command'), 135, 'a user without a grant cannot command');
  t.equal(await publish(gwB, 'bwc/v1/dev/CAM-B1/cmd', 'self-command'), 135, 'a gateway cannot write commands');
});

t.test('bwc-agent acl refuses a camera held by two gateways and a user given twice', async (t) => {
  const url = 'mqtt://127.0.0.1:1883';
  const cfgA = gatewayConfig(tempDir(t), url, 'gw-a', ['CAM-1']);
  const cfgB = gatewayConfig(tempDir(t), url, 'gw-b', ['CAM-1']);
  const r = await runCli(['acl', '--config', cfgA, '--config', cfgB]);
  t.equal(r.code, 2);
  t.match(r.stderr, /camera CAM-1 is held by both gateway gw-a and gateway gw-b/);
  const dup = await runCli(['acl', '--config', cfgA, '--console', 'gw-a-user']);
  t.equal(dup.code, 2);
  t.match(dup.stderr, /user gw-a-user is given twice/);
  const none = await runCli(['acl']);
  t.equal(none.code, 2);
  t.match(none.stderr, /give --config FILE/);
});
