import type { Fix } from '../../protocol/fix.js';
import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';

/** A camera as the platform sees it: one GB/T 28181 channel. */
export interface GbChannel {
  /** The agent's device id (BWC-0001). */
  deviceId: string;
  /** 20 digits. */
  channelId: string;
  officerNumber?: string;
  officerName?: string;
  model?: string;
  firmware?: string;
  /** Connected (its control or GNSS port is up). */
  online: boolean;
  recording?: boolean;
  /** The last fix that passed the filter, if any. */
  fix?: Fix;
}

/**
 * What the GB/T 28181 device reads of the agent: its cameras, their
 * recordings, their SOS alarms. agent/gb28181/agent-channels.ts implements
 * it over the agent's device runtimes.
 */
export interface ChannelSource {
  channels(): GbChannel[];
  recordings(deviceId: string, range: { fromMs: number; toMs: number }): Promise<RecordingInfo[]>;
  /** Bytes of a recording (for Playback and Download); shorter only at its end. Without it recordings are listed, not played. */
  readRecording?(deviceId: string, recordingId: string, offset: number, length: number): Promise<Buffer>;
  /** Calls back on every SOS of a camera; returns the unsubscribe. */
  onSos(cb: (deviceId: string) => void): () => void;
}

/** `010001 张三`: the name a channel shows on the platform. */
export function channelName(c: GbChannel): string {
  const who = [c.officerNumber, c.officerName].filter(Boolean).join(' ');
  return who || c.deviceId;
}
