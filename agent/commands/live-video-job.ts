import type { Logger } from 'pino';
import { BwcError } from '../../common/errors.js';
import type { AccessUnit, VideoEnd, VideoSource, VideoStream } from '../../drivers/video/video-source.js';
import type { DeviceRuntime } from '../device-runtime.js';
import { LiveVideoSender, type LiveVideoSummary } from '../media/live-video-sender.js';
import type { MediaSender } from '../media/media-sender.js';
import type { RunningJob } from './command-handler.js';
import type { VerifiedCommand } from './command-verifier.js';

export interface LiveVideoJob {
  c: VerifiedCommand;
  d: DeviceRuntime;
  source: VideoSource;
  stream: VideoStream;
  fps: number;
  kbps: number;
  durationS: number;
  media: MediaSender;
  log: Logger;
  liveFeed: { viewerKeepaliveS: number };
  track: (extra: Partial<RunningJob>) => RunningJob;
  untrack: () => void;
  /** Where the stream's units go from now on (units that came while starting are replayed). */
  setSink: (f: (u: AccessUnit) => void) => void;
  done: (r: Record<string, unknown>, reason?: string) => void;
}

/** No unit for this long: the camera stopped sending (mid-GOP, frozen encoder). */
const STALL_MS = 5000;
/** No keyframe this long after the start: the source is not giving video. */
const FIRST_KEYFRAME_MS = 5000;

/**
 * One live H.264 feed, from an open stream to its reply: the officer is
 * told, the centre gets the start and end events, and the feed stops on
 * duration, cancel, a missing viewer keepalive, the camera going away or the
 * stream ending (a dead encoder, a corrupt source): always with a reason,
 * and always with the stream and its ffmpeg stopped.
 */
export async function runLiveVideo(j: LiveVideoJob): Promise<string> {
  const { c, d } = j;
  const camera = d.camera;
  const sender = new LiveVideoSender({
    media: j.media, deviceId: c.deviceId, requestId: c.commandId, fps: j.fps, maxKbps: j.kbps, log: j.log,
    requestKeyframe: () => j.stream.requestKeyframe(),
  });
  const job = j.track({ keyframe: () => j.stream.requestKeyframe() });
  const startedAt = Date.now();
  let streamEnd: VideoEnd | undefined;
  void j.stream.ended.then((e) => (streamEnd = e));
  let why = 'duration reached';
  let started = false;
  let summary: LiveVideoSummary;
  try {
    // The officer is told; the first frame does not wait for the camera to confirm the alerts.
    void camera?.notify('vibrate', 500).catch(() => undefined).then(() => camera.notify('beep', 200)).catch(() => undefined);
    d.event('spot_check_started', `live video ${c.commandId} from ${j.source.kind}: ${j.fps} fps for ${j.durationS} s${j.kbps ? ` under ${j.kbps} kbit/s` : ''}`, undefined, c.issuer);
    started = true;
    let lastUnitAt = Date.now();
    j.setSink((u) => {
      lastUnitAt = Date.now();
      sender.push(u);
    });
    const endAt = startedAt + j.durationS * 1000;
    while (Date.now() < endAt) {
      if (job.abort.signal.aborted) { why = 'cancelled'; break; }
      if (Date.now() - job.keepaliveAt > j.liveFeed.viewerKeepaliveS * 1000) { why = 'viewer gone'; break; }
      if (camera && d.camera !== camera && j.source.kind === 'camera') { why = 'camera disconnected'; break; }
      if (streamEnd) { why = 'stream ended'; break; }
      if (Date.now() - lastUnitAt > STALL_MS) { why = 'stalled'; break; }
      if (sender.s.frames === 0 && sender.s.keyframes === 0 && Date.now() - startedAt > FIRST_KEYFRAME_MS && sender.firstSentMs === undefined) {
        why = 'no keyframe';
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    j.untrack();
    await j.stream.stop();
    summary = await sender.close();
    if (started) d.event('spot_check_ended', `live video ${c.commandId}: ${why}, ${summary.frames} frames`, summary.frames, c.issuer);
  }
  const line = `${why}: ${summary.frames} frames (${summary.keyframes} keyframes, ${summary.bytes} bytes, ${summary.bitrateKbps} kbit/s measured${j.kbps ? ` of ${j.kbps}` : ''}) ${summary.codec} ${summary.width}x${summary.height} in ${summary.durationMs} ms; dropped ${summary.dropped.bandwidth} for bandwidth, ${summary.dropped.link} for a slow link, ${summary.dropped.corrupt} corrupt, ${summary.droppedFrames - summary.dropped.bandwidth - summary.dropped.link - summary.dropped.corrupt} with their GOP${summary.resolutionChanges ? `; ${summary.resolutionChanges} format changes` : ''}`;
  j.log.info({ device: c.deviceId, command: c.commandId, summary }, `live video ended: ${line}`);
  if (why === 'cancelled') throw new BwcError('CANCELLED', `live video cancelled: ${line}`);
  if (why === 'camera disconnected') throw new BwcError('DEVICE_OFFLINE', `camera disconnected: ${line}`);
  if (why === 'viewer gone') throw new BwcError('VIEWER_GONE', `no viewer keepalive for ${j.liveFeed.viewerKeepaliveS} s: ${line}`);
  if (why === 'no keyframe') throw new BwcError('CAMERA_ERROR', `no keyframe from the ${j.source.kind} source within ${FIRST_KEYFRAME_MS / 1000} s (${summary.dropped.corrupt} corrupt units)`);
  if (why === 'stalled') throw new BwcError('CAMERA_ERROR', `the ${j.source.kind} source sent no video for ${STALL_MS / 1000} s: ${line}`);
  if (why === 'stream ended' && streamEnd!.kind === 'failed') throw new BwcError('CAMERA_ERROR', `${streamEnd!.reason}; ${line}`);
  j.done({ media: { requestId: c.commandId, bytes: summary.bytes, chunks: summary.chunks, frames: summary.frames, codec: summary.codec, width: summary.width, height: summary.height, durationMs: summary.durationMs, droppedFrames: summary.droppedFrames, bitrateKbps: summary.bitrateKbps, keyframes: summary.keyframes } }, line);
  return `live video ${line}`;
}
