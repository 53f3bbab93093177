import { Command, CommanderError } from 'commander';
import { BwcError, describeError } from './errors.js';

/**
 * What every CLI of the product shares: errors go to stderr with a message
 * that says what was wrong and what to do, and a non-zero exit code.
 */
export class UsageError extends BwcError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Exit codes: 1 failure of the task, 2 bad usage or input. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof BwcError && err.code.startsWith('BAD_')) return 2;
  return 1;
}

export async function runProgram(program: Command, argv: string[]): Promise<void> {
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`${program.name()}: ${describeError(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}

/** Parses a positive integer option, with a message naming the option. */
export function intOption(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** Writes to stdout and waits for it to drain, so piped output is complete before exit. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Resolves on the first SIGINT or SIGTERM, so a command can stop cleanly.
 * From then on the stop has `graceMs` to finish: past it, or on a second
 * signal, the process exits at once (a person pressing Ctrl-C twice, or a
 * service manager, never waits on a stuck stop). What the agent keeps is on
 * disk before it is acknowledged, so an exit here loses nothing.
 */
export function untilStopSignal(graceMs = 4500): Promise<StopSignal> {
  return new Promise((resolve) => {
    const first = (signal: StopSignal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const force = (why: string, code: number) => {
        process.stderr.write(`${why}; exiting now\n`);
        process.exit(code);
      };
      process.once('SIGINT', () => force('second SIGINT', 130));
      process.once('SIGTERM', () => force('second SIGTERM', 143));
      setTimeout(() => force(`did not stop within ${graceMs} ms of ${signal}`, 1), graceMs).unref();
      resolve(signal);
    };
    const onInt = () => first('SIGINT');
    const onTerm = () => first('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}
