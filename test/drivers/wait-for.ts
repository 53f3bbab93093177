/** Waits until `cond` holds, polling; fails with `what` after a generous limit (a loaded CI machine is slow). */
export async function waitFor(cond: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
