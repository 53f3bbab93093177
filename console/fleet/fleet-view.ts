/**
 * What the console server pushes to browsers about the fleet (one shape for
 * console/server/fleet-state.ts, which builds it, and console/web, which
 * draws it). Types only: the browser bundle takes nothing else from here.
 */

export interface DeviceView {
  device: string;
  online: boolean;
  /** recording, pre_record, off */
  recording: string;
  battery?: number;
  charging?: boolean;
  storageFree?: number;
  storageTotal?: number;
  gnss?: { mode: number; hdop: number; used: number };
  officer?: { number: string; name: string; unit: string; unitName: string };
  serial?: string;
  model?: string;
  agent?: string;
  /** Unix ms of the last message from the device. */
  lastSeenMs: number;
  fix?: { timeMs: number; lat: number; lon: number; accM?: number; speed?: number; course?: number };
}

export interface Alarm {
  id: string;
  device: string;
  event: string;
  timeMs: number;
  detail?: string;
  ack?: { by: string; atMs: number };
}
