import { decodeTrackColumns } from '../store/track-columns.js';
import { apiBytes, el } from './api.js';
import type { MapView, ReplayTrack } from './map-view.js';

interface TrackHead {
  fromMs: number;
  toMs: number;
  stops: Array<{ device: string; lat: number; lon: number; fromMs: number; toMs: number; durationS: number }>;
}

function localInput(ms: number): string {
  const d = new Date(ms - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function duration(s: number): string {
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/**
 * Track replay: one or several devices over a time range, drawn whole, with
 * a cursor that plays it back at the chosen speed, the stops and how long
 * each lasted, and the same range exported as GPX, GeoJSON or CSV.
 */
export class ReplayPanel {
  private tracks: ReplayTrack[] = [];
  private playing: number | undefined;
  private clock = 0;
  private readonly devices: HTMLInputElement;
  private readonly from: HTMLInputElement;
  private readonly to: HTMLInputElement;
  private readonly speed: HTMLSelectElement;
  private readonly stopsList: HTMLOListElement;
  private readonly info: HTMLElement;
  private readonly exports: HTMLElement;

  constructor(root: HTMLElement, private readonly map: MapView) {
    this.devices = root.querySelector<HTMLInputElement>('input[name=replay-devices]')!;
    this.from = root.querySelector<HTMLInputElement>('input[name=replay-from]')!;
    this.to = root.querySelector<HTMLInputElement>('input[name=replay-to]')!;
    this.speed = root.querySelector<HTMLSelectElement>('select[name=replay-speed]')!;
    this.stopsList = root.querySelector<HTMLOListElement>('.stops')!;
    this.info = root.querySelector<HTMLElement>('.replay-info')!;
    this.exports = root.querySelector<HTMLElement>('.exports')!;
    const now = Date.now();
    this.from.value = localInput(now - 3600_000);
    this.to.value = localInput(now + 60_000);
    root.querySelector('[data-action=replay]')!.addEventListener('click', () => void this.load());
    root.querySelector('[data-action=replay-play]')!.addEventListener('click', () => this.play());
    root.querySelector('[data-action=replay-clear]')!.addEventListener('click', () => this.clear());
  }

  setDevices(list: string[]): void {
    this.devices.value = list.join(',');
  }

  private query(): string {
    const p = new URLSearchParams({ devices: this.devices.value.replace(/\s+/g, ''), from: String(new Date(this.from.value).getTime()), to: String(new Date(this.to.value).getTime()) });
    return p.toString();
  }

  async load(): Promise<void> {
    this.info.textContent = 'loading…';
    const q = this.query();
    let r: TrackHead;
    try {
      // Columns in binary: the arrays are views of the body, nothing to parse.
      const { head, tracks } = decodeTrackColumns<TrackHead>(await apiBytes(`/api/track?format=columns&${q}`));
      r = head;
      this.tracks = tracks;
    } catch (err) {
      this.info.textContent = (err as Error).message;
      return;
    }
    this.map.showReplay(this.tracks, r.stops);
    const n = this.tracks.reduce((s, t) => s + t.t.length, 0);
    this.info.textContent = `${n} fixes from ${this.tracks.length} device(s), ${r.stops.length} stop(s)`;
    this.stopsList.replaceChildren(...r.stops.map((s) => el('li', {}, `${s.device}: ${new Date(s.fromMs).toLocaleTimeString()}–${new Date(s.toMs).toLocaleTimeString()}, ${duration(s.durationS)}`)));
    this.exports.replaceChildren(...(['gpx', 'geojson', 'csv'] as const).map((f) => el('a', { href: `/api/export?format=${f}&${q}`, 'data-action': `export-${f}`, download: `track.${f}` }, f.toUpperCase())));
    this.clock = Math.min(...this.tracks.map((t) => t.t[0] ?? Infinity));
  }

  /** Plays the loaded tracks back: simulated time runs `speed` times real time. */
  play(): void {
    if (this.playing !== undefined) {
      cancelAnimationFrame(this.playing);
      this.playing = undefined;
      return;
    }
    if (!this.tracks.length) return;
    const end = Math.max(...this.tracks.map((t) => t.t[t.t.length - 1] ?? 0));
    let last = performance.now();
    const step = (now: number) => {
      this.clock += (now - last) * Number(this.speed.value);
      last = now;
      const tr = this.tracks[0]!;
      let i = 0;
      let lo = 0;
      let hi = tr.t.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (tr.t[mid]! <= this.clock) (i = mid), (lo = mid + 1);
        else hi = mid - 1;
      }
      this.map.setReplayCursor({ device: tr.device, lat: tr.lat[i]!, lon: tr.lon[i]! });
      this.info.textContent = `replay ${new Date(this.clock).toLocaleTimeString()} ×${this.speed.value}`;
      if (this.clock < end) this.playing = requestAnimationFrame(step);
      else this.playing = undefined;
    };
    this.playing = requestAnimationFrame(step);
  }

  clear(): void {
    if (this.playing !== undefined) cancelAnimationFrame(this.playing);
    this.playing = undefined;
    this.tracks = [];
    this.map.clearReplay();
    this.stopsList.replaceChildren();
    this.exports.replaceChildren();
    this.info.textContent = '';
  }
}
