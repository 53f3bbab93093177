import { BwcError } from '../../common/errors.js';

/**
 * A small Prometheus registry: counters and gauges with labels, rendered in
 * the text exposition format 0.0.4. The agent needs nothing more (no
 * histograms, no default process metrics), so a few dozen lines serve where
 * prom-client would bring its dependencies and a global registry.
 */

export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values escape backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline (quotes stay as they are). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

abstract class Metric {
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly collector?: () => void,
  ) {}

  abstract readonly type: 'counter' | 'gauge';

  /** The current value of one series (0 when it was never touched). */
  get(labels: Labels = {}): number {
    return this.series.get(this.keyOf(labels))?.value ?? 0;
  }

  /** Forgets one series (a device that went away stops being exported). */
  remove(labels: Labels): void {
    this.series.delete(this.keyOf(labels));
  }

  /** Forgets every series. */
  reset(): void {
    this.series.clear();
  }

  protected update(labels: Labels, f: (old: number) => number): void {
    const key = this.keyOf(labels);
    const cur = this.series.get(key);
    if (cur) cur.value = f(cur.value);
    else this.series.set(key, { labels: { ...labels }, value: f(0) });
  }

  render(): string {
    this.collector?.();
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const { labels, value } of this.series.values()) {
      const names = this.labelNames;
      const lbl = names.length === 0 ? '' : `{${names.map((n) => `${n}="${escapeLabelValue(labels[n]!)}"`).join(',')}}`;
      out += `${this.name}${lbl} ${formatValue(value)}\n`;
    }
    return out;
  }

  /** Checks the label set against the declared names and makes the series key. */
  private keyOf(labels: Labels): string {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new BwcError('BAD_METRIC_LABELS', `metric ${this.name}: labels must be exactly {${this.labelNames.join(', ')}} with string values, got ${JSON.stringify(labels)}`);
    }
    return JSON.stringify(this.labelNames.map((n) => labels[n]));
  }
}

export class Counter extends Metric {
  readonly type = 'counter' as const;

  /** Adds `by` (default 1, never negative: counters only go up). */
  inc(labels: Labels = {}, by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new BwcError('BAD_METRIC_VALUE', `counter ${this.name}: increment must be a finite number ≥ 0, got ${by}`);
    this.update(labels, (v) => v + by);
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge' as const;

  set(labels: Labels, value: number): void {
    if (typeof value !== 'number') throw new BwcError('BAD_METRIC_VALUE', `gauge ${this.name}: value must be a number, got ${String(value)}`);
    this.update(labels, () => value);
  }

  inc(labels: Labels = {}, by = 1): void {
    this.update(labels, (v) => v + by);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.update(labels, (v) => v - by);
  }
}

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /**
   * Called just before rendering, to set values that are computed rather
   * than counted (buffer rows, ages).
   */
  collect?: () => void;
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  readonly contentType = PROMETHEUS_CONTENT_TYPE;

  counter(opts: MetricOptions): Counter {
    return this.add(new Counter(...this.check(opts)));
  }

  gauge(opts: MetricOptions): Gauge {
    return this.add(new Gauge(...this.check(opts)));
  }

  /** Every metric in registration order, in Prometheus text format. */
  render(): string {
    let out = '';
    for (const m of this.metrics.values()) out += m.render();
    return out;
  }

  private add<M extends Metric>(m: M): M {
    this.metrics.set(m.name, m);
    return m;
  }

  private check(opts: MetricOptions): [string, string, readonly string[], (() => void) | undefined] {
    const { name, help } = opts;
    const labelNames = opts.labelNames ?? [];
    if (typeof name !== 'string' || !METRIC_NAME.test(name)) throw new BwcError('BAD_METRIC_NAME', `metric name ${JSON.stringify(name)} must match ${METRIC_NAME.source}`);
    if (this.metrics.has(name)) throw new BwcError('BAD_METRIC_NAME', `metric ${name} is already registered`);
    if (typeof help !== 'string' || help === '') throw new BwcError('BAD_METRIC_HELP', `metric ${name}: help text is required`);
    const seen = new Set<string>();
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new BwcError('BAD_METRIC_LABELS', `metric ${name}: label name ${JSON.stringify(l)} must match ${LABEL_NAME.source} and not start with __`);
      if (seen.has(l)) throw new BwcError('BAD_METRIC_LABELS', `metric ${name}: label ${l} is declared twice`);
      seen.add(l);
    }
    return [name, help, [...labelNames], opts.collect];
  }
}
