/**
 * Waits for `p` to settle, but no longer than `ms`: for clean-up steps (a
 * close, a last write) that should finish but must never hang their caller.
 * Resolves either way; whatever `p` ends with is dropped.
 */
export function settledWithin(ms: number, p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => {}, () => {}),
    new Promise<void>((r) => (timer = setTimeout(r, ms))),
  ]).finally(() => clearTimeout(timer));
}
