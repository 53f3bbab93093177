import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import type { PortEndpoint } from './port-endpoint.js';
import { SeededRandom } from './random.js';

/**
 * A receiver whose UART runs at a fixed rate. A pseudo-terminal carries
 * bytes whatever rate its termios says, so this reads the rate the host set
 * on its side (the tty's termios, through a second open of the host side
 * that never reads) and, when it differs from the receiver's, sends what a
 * UART at the wrong rate delivers: framing garbage, more or fewer bytes.
 * This is what makes baud-rate detection testable on a pty.
 */
export class BaudGatedEndpoint implements PortEndpoint {
  private observer: SerialPort | undefined;
  private hostRate: number | undefined;
  private poll: NodeJS.Timeout | undefined;
  private readonly rnd: SeededRandom;
  /** Epochs sent as garbage because the host's rate was wrong. */
  garbled = 0;

  constructor(private readonly inner: PortEndpoint, readonly deviceBaud: number, seed = 1) {
    this.rnd = new SeededRandom(seed ^ 0xba0d);
  }

  get address(): string {
    return this.inner.address;
  }

  get plugged(): boolean {
    return this.inner.plugged;
  }

  async plug(): Promise<void> {
    await this.inner.plug();
    // Opened before the agent, at the receiver's rate; lock off so the agent can open it too.
    const obs = await new Promise<SerialPort>((resolve, reject) => {
      const p: SerialPort = new SerialPort({ path: this.inner.address, baudRate: this.deviceBaud, lock: false }, (err) => (err ? reject(err) : resolve(p)));
    });
    obs.on('error', () => {});
    this.observer = obs;
    this.hostRate = this.deviceBaud;
    const refresh = (): void => {
      obs.port?.getBaudRate().then(
        (r) => (this.hostRate = r.baudRate),
        () => {},
      );
    };
    this.poll = setInterval(refresh, 50);
    this.poll.unref();
  }

  async unplug(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    const obs = this.observer;
    this.observer = undefined;
    if (obs?.isOpen) await new Promise<void>((r) => obs.close(() => r()));
    await this.inner.unplug();
  }

  write(data: string | Buffer, done?: () => void): boolean {
    const host = this.hostRate;
    if (host === undefined || host === this.deviceBaud) return this.inner.write(data, done);
    this.garbled++;
    const len = typeof data === 'string' ? Buffer.byteLength(data, 'latin1') : data.length;
    const n = Math.max(1, Math.round((len * host) / this.deviceBaud));
    const junk = Buffer.alloc(n);
    for (let i = 0; i < n; i++) junk[i] = this.rnd.int(0, 255);
    // The bytes went out, but no fix can be read from them: not reported as sent.
    this.inner.write(junk);
    return false;
  }

  onStream(cb: (stream: Duplex) => void): void {
    this.inner.onStream(cb);
  }
}
