/**
 * Log lines for a person at a terminal: the same records the agent writes as
 * JSON, one readable line each:
 *
 *   06:12:03.118 INFO  mqtt         connected to broker  broker=mqtt://127.0.0.1:1883 session=1
 *   06:12:04.530 WARN  BWC-0002     gnss port closed  reason="device disconnected"
 *
 * A stream pino writes its JSON lines into (synchronously, like the JSON
 * destination), so a crash loses nothing already logged. Written here rather
 * than taken from pino-pretty: that is a transport in a worker thread (a
 * second heap on a handheld with 70 MB to spend) for what is one function.
 */

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, or that the prefix already shows. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component', 'device']);

export interface PrettyStreamOptions {
  /** Where the lines go; default stderr. */
  out?: { write(s: string): unknown };
  /** ANSI colours; default: when `out` is a terminal. */
  colour?: boolean;
}

export function prettyStream(opts: PrettyStreamOptions = {}): { write(line: string): void } {
  const out = opts.out ?? process.stderr;
  const colour = opts.colour ?? Boolean((out as { isTTY?: boolean }).isTTY);
  return {
    write(chunk: string) {
      // pino writes one record per call, ending in a newline.
      for (const line of chunk.split('\n')) if (line) out.write(formatRecord(line, colour) + '\n');
    },
  };
}

/** One JSON log record → one readable line; a line that is not JSON is passed through. */
export function formatRecord(json: string, colour = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const where = String(rec.device ?? rec.component ?? rec.name ?? '').padEnd(12);
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const msg = String(rec.msg ?? '');
  const head = colour ? `\x1b[${LEVEL_COLOURS[level] ?? '0'}m${name}\x1b[0m` : name;
  return `${time} ${head} ${where} ${msg}${fields ? `  ${fields}` : ''}`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) {
    const err = v as { message?: unknown; code?: unknown };
    // describeError() objects: the message says it all.
    if (typeof err.message === 'string') return JSON.stringify(err.code ? `${String(err.code)}: ${err.message}` : err.message);
    return JSON.stringify(v);
  }
  return String(v);
}
