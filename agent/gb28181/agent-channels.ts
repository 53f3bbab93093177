import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import type { VideoSource } from '../../drivers/video/video-source.js';
import { deriveChannelId } from '../../config/load-config.js';
import type { DeviceConfig } from '../../config/schema.js';
import type { DeviceRuntime } from '../device-runtime.js';
import type { ChannelSource, GbChannel } from './channel-source.js';
import { CameraVideoSource } from './camera-video-source.js';
import type { FootageAccess } from '../media/footage-access.js';
import { isBwcError } from '../../common/errors.js';

/**
 * The agent's cameras as GB/T 28181 channels: configured cameras with the
 * channel id of their configuration or one derived from their position in
 * it; cameras found later (USB discovery) get the next free derived id,
 * kept for the life of the process.
 */
export class AgentChannels implements ChannelSource {
  private readonly ids = new Map<string, string>();
  private readonly sos = new Set<(deviceId: string) => void>();
  private readonly videos = new Map<string, { camera: unknown; source: VideoSource }>();

  constructor(
    private readonly o: {
      gbDeviceId: string;
      configured: readonly DeviceConfig[];
      devices: () => Map<string, DeviceRuntime>;
      /** Recordings from a mounted footage folder when there is one, else over the control channel (as clip fetches). */
      footage?: FootageAccess;
    },
  ) {
    const taken = new Set(o.configured.map((d) => d.channelId).filter((c): c is string => !!c));
    o.configured.forEach((d, i) => {
      const id = d.channelId ?? deriveChannelId(o.gbDeviceId, i, taken);
      taken.add(id);
      this.ids.set(d.id, id);
    });
  }

  channelId(deviceId: string): string {
    let id = this.ids.get(deviceId);
    if (!id) {
      id = deriveChannelId(this.o.gbDeviceId, this.ids.size, new Set(this.ids.values()));
      this.ids.set(deviceId, id);
    }
    return id;
  }

  channels(): GbChannel[] {
    return [...this.o.devices().values()].map((d) => ({
      deviceId: d.settings.id,
      channelId: this.channelId(d.settings.id),
      officerNumber: d.identity?.officerNumber,
      officerName: d.identity?.officerName,
      model: d.identity?.model,
      firmware: d.identity?.firmware,
      online: d.gnssConnected || d.controlConnected,
      recording: d.recording === 'recording',
      fix: d.lastFix,
    }));
  }

  async recordings(deviceId: string, range: { fromMs: number; toMs: number }): Promise<RecordingInfo[]> {
    const camera = this.o.devices().get(deviceId)?.camera;
    if (!this.o.footage) return camera ? camera.listRecordings(range) : [];
    try {
      return await (await this.o.footage.choose(deviceId, camera)).source.listRecordings(range);
    } catch (err) {
      // Neither a footage folder nor a control channel: no recordings to list.
      if (isBwcError(err) && err.code === 'DEVICE_OFFLINE') return [];
      throw err;
    }
  }

  async readRecording(deviceId: string, recordingId: string, offset: number, length: number): Promise<Buffer> {
    const camera = this.o.devices().get(deviceId)?.camera;
    if (this.o.footage) return (await this.o.footage.choose(deviceId, camera)).source.readClip(recordingId, offset, length);
    if (!camera) throw new Error(`the control channel of ${deviceId} is not connected`);
    return camera.readClip(recordingId, offset, length);
  }

  onSos(cb: (deviceId: string) => void): () => void {
    this.sos.add(cb);
    return () => this.sos.delete(cb);
  }

  /** Called by the agent for every SOS event. */
  sosRaised(deviceId: string): void {
    for (const cb of this.sos) cb(deviceId);
  }

  /** The camera's own live video, when its driver has it (one source per connected camera). */
  videoFor(deviceId: string): VideoSource | undefined {
    const camera = this.o.devices().get(deviceId)?.camera;
    if (!camera?.startVideo) return undefined;
    const known = this.videos.get(deviceId);
    if (known && known.camera === camera) return known.source;
    const source = new CameraVideoSource(camera, deviceId);
    this.videos.set(deviceId, { camera, source });
    return source;
  }
}
