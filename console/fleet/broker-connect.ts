import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { BwcError, describeError } from '../../common/errors.js';

/**
 * Connects a console to the broker: MQTT 5 first (shared subscriptions need
 * it), 3.1.1 when the broker refuses 5. Fails with a message a supervisor can
 * act on when the broker cannot be reached.
 *
 * `setup` sees the client before it connects: a persistent session's queued
 * messages can arrive in the same read as the CONNACK, before the caller's
 * own code runs again, so a 'message' handler must be in place by then.
 */
export async function connectConsole(url: string, options: IClientOptions = {}, timeoutMs = 10_000, setup?: (client: MqttClient) => void): Promise<MqttClient> {
  let lastError: unknown;
  for (const protocolVersion of [5, 4] as const) {
    try {
      return await new Promise<MqttClient>((resolve, reject) => {
        const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true, ...options, protocolVersion });
        setup?.(client);
        const fail = (err: Error) => {
          client.removeAllListeners();
          client.on('error', () => {});
          client.end(true);
          reject(err);
        };
        client.once('connect', () => {
          // From here on the caller owns the connection (and its reconnects, when reconnectPeriod is set).
          client.removeListener('close', closed);
          client.removeAllListeners('error');
          client.on('error', () => {});
          resolve(client);
        });
        const closed = () => fail(new Error('connection closed by the broker'));
        client.once('error', fail);
        client.once('close', closed);
      });
    } catch (err) {
      lastError = err;
      if (!/protocol version|closed/i.test(describeError(err))) break;
    }
  }
  throw new BwcError('BROKER_UNREACHABLE', `cannot connect to ${url}: ${describeError(lastError)} (is the broker running and the URL right?)`, { cause: lastError });
}
