import { TestMosquitto } from './mosquitto.js';

/**
 * A process that starts a test broker, says where it is, and waits to be
 * killed: test/broker/test-broker-owned.test.ts checks the broker dies with it.
 */
const m = await TestMosquitto.start();
process.stdout.write(`${JSON.stringify({ port: m.port, pid: m.pid })}\n`);
setInterval(() => undefined, 60_000);
