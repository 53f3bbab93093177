import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../drivers/wait-for.js';

const owner = fileURLToPath(new URL('../helpers/mosquitto-owner.js', import.meta.url));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('a test broker dies with a test process killed before its teardown', async (t) => {
  const child = spawn(process.execPath, [owner], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('\n'), 'the broker started by the child');
  const { pid } = JSON.parse(out) as { port: number; pid: number };
  t.ok(alive(pid), `the broker runs (pid ${pid})`);
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await waitFor(() => !alive(pid), 'the broker gone after its owner was killed', 10_000);
  t.notOk(alive(pid), 'no broker left behind');
});
