/** What the server pushes (console/server/fleet-state.ts). */
export interface DeviceView {
  device: string;
  online: boolean;
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
