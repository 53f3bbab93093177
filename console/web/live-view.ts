import { api, el } from './api.js';
import type { FrameHeader } from '../fleet/live-frame.js';

/** Asks the server to end a live view of this user. */
export function stopLive(liveId: string): void {
  void api('POST', `/api/live/${encodeURIComponent(liveId)}/stop`).catch(() => undefined);
}

/**
 * One live view: frames are drawn on a canvas whose stream plays in a
 * <video data-live="<device>"> element. H.264 access units go through
 * WebCodecs (VideoDecoder, Annex B, no description needed); JPEG frames
 * (cameras without video) through createImageBitmap. A stop button and a
 * timer go with it.
 */
export class LivePlayer {
  readonly box: HTMLElement;
  readonly video: HTMLVideoElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly timer: HTMLElement;
  private readonly status: HTMLElement;
  private decoder: VideoDecoder | undefined;
  private codec = '';
  private waitKey = true;
  private readonly started = Date.now();
  private tick: number;
  liveId: string | undefined;
  /** The live view this player showed, also after it ended. */
  private lastLive: string | undefined;
  frames = 0;
  private drawn = 0;

  /** `onClose` gets the id of the live view the player showed (undefined: the server had not named it yet). */
  constructor(readonly device: string, parent: HTMLElement, private readonly onClose: (liveId: string | undefined) => void) {
    this.box = el('div', { class: 'live' });
    this.canvas = el('canvas', { width: '640', height: '360' });
    this.ctx = this.canvas.getContext('2d')!;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, 640, 360);
    this.video = el('video', { 'data-live': device });
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.srcObject = this.canvas.captureStream();
    void this.video.play().catch(() => undefined);
    this.timer = el('span', { class: 'timer' }, '0:00');
    this.status = el('span', { class: 'live-status' }, 'connecting…');
    const stop = el('button', { type: 'button', 'data-action': 'stop-live' }, 'Stop');
    stop.addEventListener('click', () => this.stop('stopped'));
    const head = el('div', { class: 'live-head' });
    head.append(el('strong', {}, device), this.timer, this.status, stop);
    this.box.append(head, this.video);
    parent.append(this.box);
    this.tick = window.setInterval(() => {
      const s = Math.floor((Date.now() - this.started) / 1000);
      this.timer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }, 500);
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  frame(h: FrameHeader, data: Uint8Array): void {
    this.frames++;
    this.video.dataset.frames = String(this.frames);
    if (h.contentType === 'video/h264') this.h264(h, data);
    else void createImageBitmap(new Blob([data.slice()], { type: h.contentType })).then((bmp) => this.draw(bmp, bmp.width, bmp.height), () => undefined);
    this.setStatus(`${this.frames} frames${h.sha256Ok ? '' : ' (hash mismatch!)'}`);
  }

  private h264(h: FrameHeader, data: Uint8Array): void {
    if (this.waitKey && !h.keyframe) return;
    if (h.keyframe && h.codec && (h.codec !== this.codec || !this.decoder || this.decoder.state === 'closed')) {
      this.decoder?.state === 'configured' && this.decoder.close();
      this.decoder = new VideoDecoder({
        output: (f) => {
          this.draw(f, f.displayWidth, f.displayHeight);
          f.close();
        },
        error: () => (this.waitKey = true),
      });
      this.decoder.configure({ codec: h.codec, optimizeForLatency: true });
      this.codec = h.codec;
      this.video.dataset.codec = h.codec;
    }
    if (!this.decoder || this.decoder.state !== 'configured') return;
    this.waitKey = false;
    this.decoder.decode(new EncodedVideoChunk({ type: h.keyframe ? 'key' : 'delta', timestamp: h.ptsUs ?? h.frame * 33_333, data }));
  }

  private draw(src: CanvasImageSource & { close?: () => void }, w: number, h: number): void {
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ctx.drawImage(src, 0, 0);
    // Test hook: pictures decoded and drawn (data-frames counts what arrived).
    this.video.dataset.drawn = String(++this.drawn);
    if (src instanceof ImageBitmap) src.close();
  }

  ended(why: string): void {
    this.lastLive = this.liveId ?? this.lastLive;
    this.setStatus(`ended: ${why}`);
    this.video.dataset.ended = why;
    clearInterval(this.tick);
    this.liveId = undefined;
  }

  stop(why: string): void {
    if (this.liveId) stopLive(this.liveId);
    this.ended(why);
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.video.srcObject = null;
    this.box.remove();
    this.onClose(this.lastLive);
  }
}
