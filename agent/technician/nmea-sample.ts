import { NmeaDecoder } from '../../drivers/nmea/nmea-decoder.js';
import type { GnssSummary } from '../../drivers/nmea/types.js';
import { detectBaud, openTransport, parsePortSpec } from '../../drivers/transport/index.js';
import type { Fix } from '../../protocol/fix.js';

/** What a GNSS port said over a short listening window. */
export interface NmeaSample {
  port: string;
  /** Sentences with a verified checksum. */
  sentences: number;
  badChecksum: number;
  /** Other framing drops: garbage bytes, truncated or over-long lines. */
  otherDrops: number;
  epochs: number;
  /** The last epoch's receiver state (fix mode, HDOP, satellites per constellation). */
  gnss?: GnssSummary;
  lastFix?: Fix;
  /** System time when lastFix arrived: fix time minus this is the GNSS−system clock skew. */
  lastFixSystemMs?: number;
  /** The baud rate the port was read at (serial ports). */
  baud?: number;
}

export interface NmeaSampleOptions {
  /** Serial rate or 'auto' (default 'auto'). */
  baud?: number | 'auto';
  /** Listen this long (default 3000 ms). */
  durationMs?: number;
  /** Stop early once this many fixes arrived (default: listen the whole window). */
  fixes?: number;
}

/**
 * Listens to a GNSS port for a while and counts what arrives: a technician
 * check, not the agent's reading loop (which runs forever and reconnects).
 */
export async function sampleNmea(port: string, opts: NmeaSampleOptions = {}): Promise<NmeaSample> {
  const spec = parsePortSpec(port);
  let baud = opts.baud ?? 'auto';
  // Detect within the window asked for: a technician should not wait 10 s per silent port.
  if (baud === 'auto' && spec.kind === 'serial') baud = await detectBaud(spec.path, { perRateMs: Math.max(300, Math.floor((opts.durationMs ?? 3000) / 4)) });
  const transport = await openTransport(spec, { baud });
  const baudMatch = / @ (\d+)$/.exec(transport.description);
  const decoder = new NmeaDecoder();
  const sample: NmeaSample = { port, sentences: 0, badChecksum: 0, otherDrops: 0, epochs: 0, ...(baudMatch ? { baud: Number(baudMatch[1]) } : {}) };
  let fixes = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.durationMs ?? 3000);
    transport.onClose(() => {
      clearTimeout(timer);
      resolve();
    });
    transport.stream.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        sample.epochs++;
        sample.gnss = e.gnss;
        if (e.fix) {
          sample.lastFix = e.fix;
          sample.lastFixSystemMs = Date.now();
          fixes++;
        }
      }
      if (opts.fixes !== undefined && fixes >= opts.fixes) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await transport.close().catch(() => {});
  const c = decoder.counters();
  sample.sentences = c.sentences ?? 0;
  sample.badChecksum = c.bad_checksum ?? 0;
  sample.otherDrops = (c.garbage ?? 0) + (c.truncated ?? 0) + (c.too_long ?? 0) + (c.bad_char ?? 0) + (c.no_checksum ?? 0);
  return sample;
}
