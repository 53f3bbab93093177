import { statSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { BwcError } from '../../common/errors.js';
import { CloseSignal, classifyError, errorText, type Transport } from './transport.js';

/** Opens a serial device (or a pseudo-terminal) at a fixed rate, 8N1. */
export async function openSerialTransport(path: string, baudRate: number, openTimeoutMs: number): Promise<Transport> {
  const port = await openSerialPort(path, baudRate, openTimeoutMs);
  return new SerialTransport(port, path, `${path} @ ${baudRate}`);
}

/** Opens a SerialPort or throws a BwcError that says what to check. */
export function openSerialPort(path: string, baudRate: number, openTimeoutMs: number): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let port: SerialPort;
    try {
      port = new SerialPort({ path, baudRate, autoOpen: false });
    } catch (err) {
      reject(new BwcError('BAD_PORT', `cannot use serial port ${path} at ${baudRate} baud: ${errorText(err)}`, { cause: err }));
      return;
    }
    // Errors before the caller attaches its own handlers must not be uncaught.
    const early = (): void => {};
    port.on('error', early);
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new BwcError('PORT_TIMEOUT', `serial port ${path} did not open within ${openTimeoutMs} ms`));
      // If it opens after all, nobody wants it: close it again.
      port.once('open', () => port.close(() => {}));
    }, openTimeoutMs);
    port.open((err) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      port.off('error', early);
      if (!err) return resolve(port);
      reject(openError(path, err));
    });
  });
}

function openError(path: string, err: Error): BwcError {
  const text = errorText(err);
  if (/ENOENT|No such file/i.test(text)) return new BwcError('PORT_NOT_FOUND', `serial port ${path} does not exist (is the camera plugged in?): ${text}`, { cause: err });
  if (/EACCES|Permission denied/i.test(text)) return new BwcError('PORT_ACCESS', `no permission to open ${path} (add the user to the dialout group): ${text}`, { cause: err });
  if (/EBUSY|Resource busy|lock/i.test(text)) return new BwcError('PORT_BUSY', `serial port ${path} is in use by another program: ${text}`, { cause: err });
  return new BwcError('PORT_OPEN_FAILED', `cannot open serial port ${path}: ${text}`, { cause: err });
}

/** How often the device node is checked for a pull (see SerialTransport). */
const PRESENCE_CHECK_MS = 500;

class SerialTransport implements Transport {
  private readonly signal = new CloseSignal();
  private closingByUs = false;
  private readonly presence: NodeJS.Timeout | undefined;

  constructor(private readonly port: SerialPort, path: string, readonly description: string) {
    // A hung-up tty reads as end-of-file, which @serialport/bindings-cpp retries
    // forever instead of reporting (it only notices when its poller sees the
    // hangup). So watch the device node too: a pulled USB adapter (or an
    // unplugged pty pair) removes it, and a replug makes a different device.
    const device = deviceOf(path);
    if (device) {
      this.presence = setInterval(() => {
        const now = deviceOf(path);
        if (now && now.rdev === device.rdev && now.ino === device.ino) return;
        this.vanished = true;
        if (port.isOpen) port.close(() => {});
        else this.signal.fire(`device disconnected: ${path} is gone`);
      }, PRESENCE_CHECK_MS);
      this.presence.unref();
    }
    this.signal.on(() => clearInterval(this.presence));
    port.on('error', (err: Error) => {
      if (classifyError(err) === 'canceled') return;
      // A port that failed stays failed: close it and let the manager open a new one.
      this.lastError = err;
      if (port.isOpen) port.close(() => {});
      else this.signal.fire(`serial port error: ${errorText(err)}`);
    });
    port.on('close', (err?: Error & { disconnected?: boolean }) => {
      if (this.closingByUs) this.signal.fire('closed by agent');
      else if (this.vanished) this.signal.fire(`device disconnected: ${path} is gone`);
      else if (err?.disconnected) this.signal.fire(`device disconnected: ${errorText(err)}`);
      else if (this.lastError) this.signal.fire(`serial port error: ${errorText(this.lastError)}`);
      else this.signal.fire('serial port closed');
    });
  }

  private lastError: Error | undefined;
  private vanished = false;

  get stream(): SerialPort {
    return this.port;
  }

  get closed(): boolean {
    return this.signal.closed;
  }

  onClose(cb: (reason: string) => void): void {
    this.signal.on(cb);
  }

  close(): Promise<void> {
    if (this.signal.closed || !this.port.isOpen) {
      this.closingByUs = true;
      this.signal.fire('closed by agent');
      return Promise.resolve();
    }
    this.closingByUs = true;
    return new Promise((resolve) => {
      this.port.close(() => {
        this.signal.fire('closed by agent');
        resolve();
      });
    });
  }
}

function deviceOf(path: string): { rdev: number; ino: number } | undefined {
  try {
    const st = statSync(path);
    return { rdev: st.rdev, ino: st.ino };
  } catch {
    return undefined;
  }
}
