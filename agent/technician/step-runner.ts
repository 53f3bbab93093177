import { describeError } from '../../common/errors.js';

export type StepResult = 'ok' | 'changed' | 'unchanged' | 'would-change' | 'skipped' | 'failed';

export interface StepRecord {
  step: string;
  result: StepResult;
  detail: string;
}

/** Thrown when a step fails: carries the step name and whether the undo ran cleanly. */
export class StepFailure extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    readonly undone: string[],
    readonly undoErrors: string[],
  ) {
    super(describeError(cause));
  }
}

/**
 * Runs named steps in order, reporting each as it completes (progress for a
 * person watching), and keeps an undo list: when a step fails, what the
 * earlier steps changed is put back, newest first, so a failed run leaves
 * nothing half-written.
 */
export class StepRunner {
  readonly records: StepRecord[] = [];
  private readonly undos: { what: string; fn: () => Promise<void> | void }[] = [];

  constructor(
    private readonly total: number,
    private readonly progress: (r: StepRecord, index: number, total: number) => void,
  ) {}

  async step(name: string, fn: () => Promise<{ result: StepResult; detail: string }>): Promise<void> {
    let out: { result: StepResult; detail: string };
    try {
      out = await fn();
    } catch (err) {
      const rec = { step: name, result: 'failed' as const, detail: describeError(err) };
      this.records.push(rec);
      this.progress(rec, this.records.length, this.total);
      const { undone, errors } = await this.undoAll();
      throw new StepFailure(name, err, undone, errors);
    }
    const rec = { step: name, ...out };
    this.records.push(rec);
    this.progress(rec, this.records.length, this.total);
  }

  /** Registers how to put back what a step just changed. */
  onUndo(what: string, fn: () => Promise<void> | void): void {
    this.undos.push({ what, fn });
  }

  private async undoAll(): Promise<{ undone: string[]; errors: string[] }> {
    const undone: string[] = [];
    const errors: string[] = [];
    for (const u of this.undos.splice(0).reverse()) {
      try {
        await u.fn();
        undone.push(u.what);
      } catch (err) {
        errors.push(`${u.what}: ${describeError(err)}`);
      }
    }
    return { undone, errors };
  }
}
