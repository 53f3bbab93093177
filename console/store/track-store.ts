import type { TrackColumns } from './track-columns.js';

/**
 * The console's track store: every fix the fleet sent, and each device's
 * latest position. Positions are WGS-84 degrees as the devices report them;
 * conversion to a basemap's datum happens in the browser, at render time.
 */
export interface StoredFix {
  device: string;
  timeMs: number;
  lat: number;
  lon: number;
  seq?: number;
  alt?: number;
  speed?: number;
  course?: number;
  hdop?: number;
  sats?: number;
  historical?: boolean;
}

export interface TrackQuery {
  devices: string[];
  fromMs: number;
  toMs: number;
  /** Most fixes returned per device (the newest are dropped beyond it). */
  limit?: number;
}

export interface TrackStore {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Adds fixes (any order, duplicates ignored: the same device and time is
   * one fix). The latest position of a device moves only forward in time, so
   * a late or historical fix never overwrites a newer one.
   */
  insert(fixes: StoredFix[]): Promise<void>;
  /** Every device's newest fix. */
  latest(): Promise<StoredFix[]>;
  /** Fixes of the devices in the range, ordered by device then time. */
  track(q: TrackQuery): Promise<StoredFix[]>;
  /** The same fixes as columns (time, position, HDOP, speed), one entry per device that has any, in the order asked. */
  trackColumns(q: TrackQuery): Promise<TrackColumns[]>;
  close(): Promise<void>;
}

/** Keeps the newest fix per device in a batch: what an upsert of "latest" needs. */
export function newestPerDevice(fixes: StoredFix[]): StoredFix[] {
  const best = new Map<string, StoredFix>();
  for (const f of fixes) {
    const b = best.get(f.device);
    if (!b || f.timeMs > b.timeMs) best.set(f.device, f);
  }
  return [...best.values()];
}

/** Accuracy radius (m, about 68 %) from HDOP: HDOP times a typical user range error. */
export function accuracyM(hdop: number | undefined): number | undefined {
  return hdop === undefined ? undefined : Math.round(hdop * 5 * 10) / 10;
}
