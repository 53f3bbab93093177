import { toMapDatum, type Crs } from './coords.js';
import type { DeviceView } from './types.js';

const TILE = 256;
const MAX_LAT = 85.05112878;

/** Web Mercator: degrees → world pixels at zoom z. */
function project(lat: number, lon: number, z: number): [number, number] {
  const s = TILE * 2 ** z;
  const l = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * (Math.PI / 180);
  return [((lon + 180) / 360) * s, ((1 - Math.log(Math.tan(l) + 1 / Math.cos(l)) / Math.PI) / 2) * s];
}

function unproject(x: number, y: number, z: number): [number, number] {
  const s = TILE * 2 ** z;
  const lon = (x / s) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / s;
  return [(180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))), lon];
}

interface Trail {
  /** Map-datum positions with their times (WGS-84 converted once, when added). */
  t: number[];
  lat: number[];
  lon: number[];
}

export interface ReplayTrack {
  device: string;
  t: Float64Array;
  lat: Float64Array;
  lon: Float64Array;
}

/**
 * A replay track as drawn: map-datum positions, projected once (Web Mercator
 * at zoom 0), and the line for the zoom last drawn at, made once per zoom:
 * only points a pixel or more apart, relative to the first point (so its
 * coordinates stay small), drawn with one stroke wherever the map is panned.
 */
interface DrawnTrack {
  device: string;
  lat: Float64Array;
  lon: Float64Array;
  x0: Float64Array;
  y0: Float64Array;
  line?: { zoom: number; ox: number; oy: number; path: Path2D; vertices: number };
}

const NICE = [1, 2, 5];

/**
 * The live map: its own canvas renderer (no map library), so it works with
 * no network at all. Layers, bottom up: plain background, tiles from a URL
 * template when configured, a lat/lon grid, trails and accuracy circles,
 * the replay track; markers are DOM elements above the canvas (each with
 * data-device, so other programs can find them), clustered at fleet scale.
 */
export class MapView {
  readonly canvas: HTMLCanvasElement;
  readonly overlay: HTMLDivElement;
  private readonly ctx: CanvasRenderingContext2D;
  private center: [number, number] = [30.05, 121.15];
  private zoom = 14;
  private fitted = false;
  private dirty = true;
  private readonly tiles = new Map<string, HTMLImageElement | 'failed'>();
  private readonly markers = new Map<string, HTMLDivElement>();
  private readonly clusters: HTMLDivElement[] = [];
  private readonly trails = new Map<string, Trail>();
  private readonly views = new Map<string, DeviceView>();
  private replay: DrawnTrack[] = [];
  private replayCursor: { device: string; lat: number; lon: number } | undefined;
  private stops: Array<{ lat: number; lon: number; durationS: number }> = [];
  private selected: string | undefined;
  onSelect: (device: string) => void = () => undefined;
  /** Frame times (ms) of the last renders, for the benchmark. */
  readonly frameTimes: number[] = [];

  constructor(readonly root: HTMLElement, private readonly crs: Crs, private readonly tileTemplate: string, private readonly trailMs: number) {
    this.canvas = document.createElement('canvas');
    this.overlay = document.createElement('div');
    this.overlay.className = 'map-overlay';
    root.append(this.canvas, this.overlay);
    this.ctx = this.canvas.getContext('2d')!;
    new ResizeObserver(() => this.invalidate()).observe(root);
    this.bindInput();
    const loop = () => {
      if (this.dirty) {
        const t0 = performance.now();
        this.render();
        this.frameTimes.push(performance.now() - t0);
        if (this.frameTimes.length > 2000) this.frameTimes.splice(0, 1000);
      }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  invalidate(): void {
    this.dirty = true;
  }

  private bindInput(): void {
    let drag: { x: number; y: number } | undefined;
    this.root.addEventListener('pointerdown', (e) => {
      if ((e.target as HTMLElement).closest('.marker, .cluster')) return;
      drag = { x: e.clientX, y: e.clientY };
      this.root.setPointerCapture(e.pointerId);
    });
    this.root.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const [cx, cy] = project(this.center[0], this.center[1], this.zoom);
      this.center = unproject(cx - (e.clientX - drag.x), cy - (e.clientY - drag.y), this.zoom);
      drag = { x: e.clientX, y: e.clientY };
      this.fitted = true;
      this.invalidate();
    });
    this.root.addEventListener('pointerup', () => (drag = undefined));
    this.root.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.zoomBy(e.deltaY < 0 ? 1 : -1);
    }, { passive: false });
  }

  zoomBy(d: number): void {
    this.zoom = Math.max(2, Math.min(19, Math.round(this.zoom + d)));
    this.fitted = true;
    this.invalidate();
  }

  /** A device changed: its marker and trail follow. */
  update(v: DeviceView): void {
    const prev = this.views.get(v.device);
    this.views.set(v.device, v);
    if (v.fix && (!prev?.fix || prev.fix.timeMs !== v.fix.timeMs)) {
      let tr = this.trails.get(v.device);
      if (!tr) this.trails.set(v.device, (tr = { t: [], lat: [], lon: [] }));
      const [lat, lon] = toMapDatum(this.crs, v.fix.lat, v.fix.lon);
      tr.t.push(v.fix.timeMs);
      tr.lat.push(lat);
      tr.lon.push(lon);
      const cut = v.fix.timeMs - this.trailMs;
      let drop = 0;
      while (drop < tr.t.length && tr.t[drop]! < cut) drop++;
      if (drop) {
        tr.t.splice(0, drop);
        tr.lat.splice(0, drop);
        tr.lon.splice(0, drop);
      }
    }
    this.invalidate();
  }

  select(device: string | undefined, center = false): void {
    this.selected = device;
    const v = device ? this.views.get(device) : undefined;
    if (center && v?.fix) this.center = toMapDatum(this.crs, v.fix.lat, v.fix.lon);
    this.invalidate();
  }

  /** Fits the view to the given map-datum points. */
  fit(points: Array<[number, number]>): void {
    if (!points.length) return;
    let [minLat, minLon, maxLat, maxLon] = [90, 180, -90, -180];
    for (const [la, lo] of points) {
      minLat = Math.min(minLat, la);
      maxLat = Math.max(maxLat, la);
      minLon = Math.min(minLon, lo);
      maxLon = Math.max(maxLon, lo);
    }
    this.center = [(minLat + maxLat) / 2, (minLon + maxLon) / 2];
    const w = Math.max(100, this.root.clientWidth - 80);
    const h = Math.max(100, this.root.clientHeight - 80);
    let z = 18;
    while (z > 2) {
      const [x1, y1] = project(maxLat, minLon, z);
      const [x2, y2] = project(minLat, maxLon, z);
      if (x2 - x1 <= w && y2 - y1 <= h) break;
      z--;
    }
    this.zoom = z;
    this.fitted = true;
    this.invalidate();
  }

  fitFleet(): void {
    this.fit([...this.views.values()].filter((v) => v.fix).map((v) => toMapDatum(this.crs, v.fix!.lat, v.fix!.lon)));
  }

  /** Shows a replay: tracks converted to the map datum and projected once, here. */
  showReplay(tracks: ReplayTrack[], stops: Array<{ lat: number; lon: number; durationS: number }>): void {
    this.replay = tracks.map((tr) => {
      const n = tr.t.length;
      let { lat, lon } = tr;
      if (this.crs !== 'wgs84') {
        lat = new Float64Array(n);
        lon = new Float64Array(n);
        for (let i = 0; i < n; i++) [lat[i], lon[i]] = toMapDatum(this.crs, tr.lat[i]!, tr.lon[i]!);
      }
      const x0 = new Float64Array(n);
      const y0 = new Float64Array(n);
      for (let i = 0; i < n; i++) [x0[i], y0[i]] = project(lat[i]!, lon[i]!, 0);
      return { device: tr.device, lat, lon, x0, y0 };
    });
    this.stops = stops.map((s) => {
      const [lat, lon] = toMapDatum(this.crs, s.lat, s.lon);
      return { lat, lon, durationS: s.durationS };
    });
    const pts: Array<[number, number]> = [];
    for (const tr of this.replay) for (let i = 0; i < tr.lat.length; i += Math.max(1, Math.floor(tr.lat.length / 500))) pts.push([tr.lat[i]!, tr.lon[i]!]);
    this.fit(pts);
  }

  setReplayCursor(c: { device: string; lat: number; lon: number } | undefined): void {
    if (c) {
      const [lat, lon] = toMapDatum(this.crs, c.lat, c.lon);
      this.replayCursor = { device: c.device, lat, lon };
    } else this.replayCursor = undefined;
    this.invalidate();
  }

  clearReplay(): void {
    this.replay = [];
    this.stops = [];
    this.replayCursor = undefined;
    this.invalidate();
  }

  private render(): void {
    this.dirty = false;
    const w = this.root.clientWidth;
    const h = this.root.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h}px`;
    }
    if (!this.fitted && [...this.views.values()].some((v) => v.fix)) this.fitFleet();
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#eef1f4';
    ctx.fillRect(0, 0, w, h);
    const z = this.zoom;
    const [cx, cy] = project(this.center[0], this.center[1], z);
    const ox = cx - w / 2;
    const oy = cy - h / 2;
    const sx = (lat: number, lon: number): [number, number] => {
      const [x, y] = project(lat, lon, z);
      return [x - ox, y - oy];
    };
    if (this.tileTemplate) this.drawTiles(ctx, z, ox, oy, w, h);
    this.drawGrid(ctx, z, ox, oy, w, h);

    // Trails of the last minutes, then accuracy circles.
    const mPerPx = (156543.03392 * Math.cos((this.center[0] * Math.PI) / 180)) / 2 ** z;
    ctx.lineWidth = 2;
    for (const [device, tr] of this.trails) {
      if (tr.t.length < 2) continue;
      ctx.strokeStyle = device === this.selected ? 'rgba(20,90,200,0.9)' : 'rgba(60,60,80,0.45)';
      ctx.beginPath();
      for (let i = 0; i < tr.t.length; i++) {
        const [x, y] = sx(tr.lat[i]!, tr.lon[i]!);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    ctx.fillStyle = 'rgba(30,120,255,0.12)';
    ctx.strokeStyle = 'rgba(30,120,255,0.5)';
    ctx.lineWidth = 1;
    for (const v of this.views.values()) {
      if (!v.fix?.accM) continue;
      const r = v.fix.accM / mPerPx;
      if (r < 3) continue;
      const [lat, lon] = toMapDatum(this.crs, v.fix.lat, v.fix.lon);
      const [x, y] = sx(lat, lon);
      if (x < -r || y < -r || x > w + r || y > h + r) continue;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
    }

    // The replay: whole tracks, stops, and the moving cursor.
    ctx.lineWidth = 3;
    const colours = ['#d2462d', '#2d6fd2', '#2a9d4b', '#9b3dc8', '#c88a1d'];
    this.replay.forEach((tr, k) => {
      const line = this.replayLine(tr, z);
      if (!line) return;
      ctx.strokeStyle = colours[k % colours.length]!;
      ctx.save();
      ctx.translate(line.ox - ox, line.oy - oy);
      ctx.stroke(line.path);
      ctx.restore();
    });
    if (this.replay.length) {
      // Test and benchmark hook: how many replay points the last frame drew, and when.
      this.root.dataset.replayPoints = String(this.replay.reduce((n, tr) => n + tr.lat.length, 0));
      this.root.dataset.replayDrawnAt = String(performance.now());
    } else delete this.root.dataset.replayPoints;
    ctx.fillStyle = '#f0b400';
    ctx.strokeStyle = '#000';
    for (const s of this.stops) {
      const [x, y] = sx(s.lat, s.lon);
      ctx.beginPath();
      ctx.arc(x, y, 6, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
    }
    if (this.replayCursor) {
      const [x, y] = sx(this.replayCursor.lat, this.replayCursor.lon);
      ctx.fillStyle = '#111';
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, Math.PI * 2);
      ctx.fill();
    }
    this.drawScale(ctx, mPerPx, h);
    this.placeMarkers(sx, w, h);
  }

  /** The track's line at zoom z: made when the zoom changes, the same for every pan. */
  private replayLine(tr: DrawnTrack, z: number): DrawnTrack['line'] {
    if (tr.line?.zoom === z) return tr.line;
    const n = tr.x0.length;
    if (!n) return undefined;
    const s = 2 ** z;
    const ox = Math.round(tr.x0[0]! * s);
    const oy = Math.round(tr.y0[0]! * s);
    const path = new Path2D();
    let lastX = tr.x0[0]! * s - ox;
    let lastY = tr.y0[0]! * s - oy;
    path.moveTo(lastX, lastY);
    let vertices = 1;
    for (let i = 1; i < n; i++) {
      const x = tr.x0[i]! * s - ox;
      const y = tr.y0[i]! * s - oy;
      // Points closer than a pixel add nothing to the picture.
      if (Math.abs(x - lastX) < 0.7 && Math.abs(y - lastY) < 0.7) continue;
      path.lineTo(x, y);
      lastX = x;
      lastY = y;
      vertices++;
    }
    tr.line = { zoom: z, ox, oy, path, vertices };
    return tr.line;
  }

  private drawTiles(ctx: CanvasRenderingContext2D, z: number, ox: number, oy: number, w: number, h: number): void {
    const n = 2 ** z;
    for (let tx = Math.floor(ox / TILE); tx <= Math.floor((ox + w) / TILE); tx++) {
      for (let ty = Math.floor(oy / TILE); ty <= Math.floor((oy + h) / TILE); ty++) {
        if (ty < 0 || ty >= n) continue;
        const x = ((tx % n) + n) % n;
        const url = this.tileTemplate.replace('{z}', String(z)).replace('{x}', String(x)).replace('{y}', String(ty)).replace('{s}', 'abc'[(x + ty) % 3]!);
        let img = this.tiles.get(url);
        if (!img) {
          const im = new Image();
          im.onload = () => this.invalidate();
          // An unreachable tile server leaves the grid: the tracks still show.
          im.onerror = () => this.tiles.set(url, 'failed');
          im.src = url;
          this.tiles.set(url, (img = im));
          if (this.tiles.size > 600) this.tiles.delete(this.tiles.keys().next().value!);
        }
        if (img !== 'failed' && img.complete && img.naturalWidth) ctx.drawImage(img, tx * TILE - ox, ty * TILE - oy, TILE, TILE);
      }
    }
  }

  private drawGrid(ctx: CanvasRenderingContext2D, z: number, ox: number, oy: number, w: number, h: number): void {
    const [latTop, lonLeft] = unproject(ox, oy, z);
    const [latBottom, lonRight] = unproject(ox + w, oy + h, z);
    const span = lonRight - lonLeft;
    let step = 1;
    for (let e = -6; e <= 2; e++) {
      const hit = NICE.map((m) => m * 10 ** e).find((s) => span / s <= 10);
      if (hit) {
        step = hit;
        break;
      }
    }
    ctx.strokeStyle = 'rgba(0,0,0,0.08)';
    ctx.fillStyle = 'rgba(0,0,0,0.45)';
    ctx.font = '10px sans-serif';
    ctx.lineWidth = 1;
    ctx.beginPath();
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    for (let lon = Math.ceil(lonLeft / step) * step; lon <= lonRight; lon += step) {
      const x = project(0, lon, z)[0] - ox;
      ctx.moveTo(x, 0);
      ctx.lineTo(x, h);
      ctx.fillText(lon.toFixed(digits), x + 2, 10);
    }
    for (let lat = Math.ceil(latBottom / step) * step; lat <= latTop; lat += step) {
      const y = project(lat, 0, z)[1] - oy;
      ctx.moveTo(0, y);
      ctx.lineTo(w, y);
      ctx.fillText(lat.toFixed(digits), 2, y - 2);
    }
    ctx.stroke();
  }

  private drawScale(ctx: CanvasRenderingContext2D, mPerPx: number, h: number): void {
    const target = 120 * mPerPx;
    let len = 1;
    for (let e = 0; e < 8; e++) for (const m of NICE) if (m * 10 ** e <= target) len = m * 10 ** e;
    const px = len / mPerPx;
    ctx.fillStyle = 'rgba(255,255,255,0.8)';
    ctx.fillRect(8, h - 28, px + 60, 20);
    ctx.strokeStyle = '#222';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(12, h - 14);
    ctx.lineTo(12 + px, h - 14);
    ctx.stroke();
    ctx.fillStyle = '#222';
    ctx.font = '11px sans-serif';
    ctx.fillText(len >= 1000 ? `${len / 1000} km` : `${len} m`, 16 + px, h - 10);
  }

  /** Markers as DOM elements; at fleet scale, devices closer than a cell become one cluster marker. */
  private placeMarkers(sx: (lat: number, lon: number) => [number, number], w: number, h: number): void {
    const positioned: Array<{ v: DeviceView; x: number; y: number }> = [];
    for (const v of this.views.values()) {
      if (!v.fix) continue;
      const [lat, lon] = toMapDatum(this.crs, v.fix.lat, v.fix.lon);
      const [x, y] = sx(lat, lon);
      positioned.push({ v, x, y });
    }
    const cluster = positioned.length > 150 && this.zoom < 17;
    const cells = new Map<string, typeof positioned>();
    if (cluster) {
      for (const p of positioned) {
        if (p.x < -40 || p.y < -40 || p.x > w + 40 || p.y > h + 40) continue;
        const key = `${Math.floor(p.x / 56)},${Math.floor(p.y / 56)}`;
        let c = cells.get(key);
        if (!c) cells.set(key, (c = []));
        c.push(p);
      }
    }
    const inCluster = new Set<string>();
    let ci = 0;
    for (const members of cells.values()) {
      if (members.length < 2) continue;
      for (const m of members) inCluster.add(m.v.device);
      let el = this.clusters[ci];
      if (!el) {
        el = document.createElement('div');
        el.className = 'cluster';
        el.addEventListener('click', () => this.zoomBy(2));
        this.overlay.append(el);
        this.clusters.push(el);
      }
      const x = members.reduce((s, m) => s + m.x, 0) / members.length;
      const y = members.reduce((s, m) => s + m.y, 0) / members.length;
      el.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
      el.style.display = '';
      el.textContent = String(members.length);
      const rec = members.filter((m) => m.v.recording === 'recording' && m.v.online).length;
      el.classList.toggle('has-recording', rec > 0);
      ci++;
    }
    for (let i = ci; i < this.clusters.length; i++) this.clusters[i]!.style.display = 'none';
    for (const p of positioned) {
      let m = this.markers.get(p.v.device);
      if (!m) {
        m = document.createElement('div');
        m.dataset.device = p.v.device;
        m.addEventListener('click', () => this.onSelect(m!.dataset.device!));
        this.overlay.append(m);
        this.markers.set(p.v.device, m);
      }
      const hidden = inCluster.has(p.v.device) || p.x < -20 || p.y < -20 || p.x > w + 20 || p.y > h + 20;
      // Offscreen markers stay in the DOM (other programs find every officer) but are not drawn.
      m.style.visibility = hidden ? 'hidden' : '';
      m.style.transform = `translate(${p.x.toFixed(1)}px, ${p.y.toFixed(1)}px)`;
      const cls = `marker rec-${p.v.recording}${p.v.online ? '' : ' offline'}${p.v.device === this.selected ? ' selected' : ''}`;
      if (m.className !== cls) m.className = cls;
      const title = `${p.v.device}${p.v.officer ? ` · ${p.v.officer.number} ${p.v.officer.name}` : ''} · ${p.v.recording}${p.v.online ? '' : ' · offline'}`;
      if (m.title !== title) m.title = title;
    }
  }
}
