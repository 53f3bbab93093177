/**
 * One error class for the whole product: a stable `code` that programs and
 * tests match on, a message that tells a person what went wrong and what to
 * do, and the underlying `cause` when there is one.
 */
export class BwcError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BwcError';
    this.code = code;
  }
}

export function isBwcError(err: unknown, code?: string): err is BwcError {
  return err instanceof BwcError && (code === undefined || err.code === code);
}

/** A message for any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
