import { parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { LiveFixProbe } from './live-fix-probe.js';

/**
 * The worker thread of bench/live-fix-probe-thread.ts: a LiveFixProbe with
 * its pseudo-terminals and its own MQTT subscriber, on an event loop that
 * nothing else in the bench shares. Answers the calls of its main-thread
 * handle, each by the id it came with.
 */
type Call = { id: number; type: 'subscribe'; url: string } | { id: number; type: 'caughtUp'; timeoutMs: number; withinMs?: number } | { id: number; type: 'window'; seconds: number; graceMs?: number } | { id: number; type: 'stop' };

const port = parentPort!;
const cleanups: Array<() => unknown> = [];
const owner = { teardown: (fn: () => unknown) => void cleanups.unshift(fn) };
const { count, seed, prefix } = workerData as { count: number; seed?: number; prefix?: string };
const probe = await LiveFixProbe.start(owner, { count, ...(seed !== undefined ? { seed } : {}), ...(prefix !== undefined ? { prefix } : {}) });
port.postMessage({ type: 'ready', devices: probe.devices });

async function answer(call: Call): Promise<unknown> {
  switch (call.type) {
    case 'subscribe': {
      const client = await mqtt.connectAsync(call.url, { protocolVersion: 5, reconnectPeriod: 1000 });
      owner.teardown(() => client.endAsync(true));
      await probe.subscribe(client);
      return undefined;
    }
    case 'caughtUp':
      return probe.caughtUp(call.timeoutMs, call.withinMs);
    case 'window':
      return probe.window(call.seconds, call.graceMs);
    case 'stop':
      for (const fn of cleanups.splice(0)) await Promise.resolve(fn()).catch(() => undefined);
      return undefined;
  }
}

port.on('message', (call: Call) => {
  answer(call).then(
    (value) => {
      port.postMessage({ id: call.id, value });
      if (call.type === 'stop') port.close();
    },
    (err: Error) => port.postMessage({ id: call.id, error: err.message }),
  );
});
