import { AlarmBanner } from './alarms.js';
import { api, ApiError, el, setCsrf, type Session } from './api.js';
import type { Crs } from './coords.js';
import { FleetList } from './fleet-list.js';
import { decodeFrame } from '../fleet/live-frame.js';
import { LivePlayer, stopLive } from './live-view.js';
import { MapView } from './map-view.js';
import { ReplayPanel } from './replay-panel.js';
import type { Alarm, DeviceView } from './types.js';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector<T>(sel)!;

async function boot(): Promise<void> {
  let session: Session;
  try {
    session = await api<Session>('GET', '/api/session');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    $('#login-error').textContent = (err as Error).message;
    return showLogin();
  }
  setCsrf(session.csrf);
  await start(session);
}

function showLogin(): void {
  $('#login').hidden = false;
  $('#app').hidden = true;
  const form = $<HTMLFormElement>('#login form');
  form.onsubmit = async (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    try {
      const s = await api<Session>('POST', '/api/login', { name: String(fd.get('name') ?? ''), password: String(fd.get('password') ?? '') });
      setCsrf(s.csrf);
      $('#login').hidden = true;
      await start(s);
    } catch (err) {
      $('#login-error').textContent = (err as Error).message;
    }
  };
}

interface ServerConfig {
  map: { tiles: string; crs: Crs; trailMinutes: number };
}

async function start(session: Session): Promise<void> {
  $('#app').hidden = false;
  $('#who').textContent = `${session.name} (${session.role})`;
  const cfg = await api<ServerConfig>('GET', '/api/config');
  const devices = new Map<string, DeviceView>();
  const map = new MapView($('#map'), cfg.map.crs, cfg.map.tiles, cfg.map.trailMinutes * 60_000);
  (window as unknown as { bwcMap: MapView }).bwcMap = map;
  const banner = new AlarmBanner($('#alarms'), $<HTMLInputElement>('#sound'), devices);
  $<HTMLInputElement>('#sound').addEventListener('change', () => banner.soundChanged());
  const players = new Map<string, LivePlayer>();
  const notice = (text: string) => ($('#notice').textContent = text);
  let ws: WebSocket | undefined;
  const endedEarly = new Map<string, string>();
  // Live views the viewer closed: what is still on its way for them (frames
  // relayed before the server heard of the stop) is dropped, never shown in a
  // new player. A view closed before the server named it is stopped as soon as it does.
  const closed = new Set<string>();
  const closeWhenNamed = new Set<string>();
  const closedBeforeNamed = (live: string, device: string): boolean => {
    if (closed.has(live)) return true;
    if (players.has(device) || !closeWhenNamed.delete(device)) return false;
    closed.add(live);
    stopLive(live);
    return true;
  };

  const player = (device: string) => {
    let p = players.get(device);
    if (!p) {
      p = new LivePlayer(device, $('#lives'), (live) => {
        players.delete(device);
        if (live) closed.add(live);
        else closeWhenNamed.add(device);
      });
      players.set(device, p);
    }
    return p;
  };
  const startLive = (msg: { device?: string; random?: number }) => {
    if (msg.device) {
      closeWhenNamed.delete(msg.device);
      player(msg.device);
    }
    ws?.send(JSON.stringify({ type: 'live', durationS: 120, ...msg }));
  };
  const spot = async (kind: 'snapshot' | 'clip', device: string) => {
    notice(`${kind} from ${device}…`);
    const { jobs } = await api<{ jobs: Array<{ id: string }> }>('POST', '/api/spot', { kind, device }).catch((err: Error) => ({ jobs: [], err }));
    for (const j of jobs) void followJob(j.id);
  };
  const followJob = async (id: string) => {
    for (;;) {
      const j = await api<{ id: string; device: string; kind: string; state: string; result?: string; reason?: string; sha256?: string; sha256Ok?: boolean; bytes?: number }>('GET', `/api/spot/${id}`);
      if (j.state === 'done') {
        const row = el('div', { class: `spot spot-${j.result ?? 'failed'}`, 'data-spot': j.kind });
        row.append(el('strong', {}, `${j.kind} ${j.device}: ${j.result}`));
        if (j.result === 'ok') {
          row.append(el('span', { class: 'sha' }, ` SHA-256 ${j.sha256} ${j.sha256Ok ? '(verified)' : '(NOT verified)'} · ${j.bytes} bytes `));
          if (j.kind === 'snapshot') row.append(el('img', { src: `/api/spot/${id}/file`, alt: `snapshot from ${j.device}` }));
          else row.append(el('a', { href: `/api/spot/${id}/file`, download: '' }, 'download clip'));
        } else row.append(el('span', {}, ` ${j.reason ?? ''}`));
        $('#spots').prepend(row);
        notice('');
        return;
      }
      await new Promise((r) => setTimeout(r, 700));
    }
  };

  const list = new FleetList($<HTMLTableSectionElement>('#fleet tbody'), $<HTMLInputElement>('#search'), {
    snapshot: (d) => void spot('snapshot', d),
    clip: (d) => void spot('clip', d),
    live: (d) => startLive({ device: d }),
    select: (d) => {
      map.select(d, true);
      list.highlight(d);
      replay.setDevices([d]);
    },
  }, session.canCommand);
  map.onSelect = (d) => {
    map.select(d);
    list.highlight(d);
    replay.setDevices([d]);
  };
  const replay = new ReplayPanel($('#replay'), map);

  const spotBtn = $<HTMLButtonElement>('[data-action=spot-check]');
  spotBtn.disabled = !session.canCommand;
  spotBtn.addEventListener('click', () => startLive({ random: Number($<HTMLInputElement>('#spot-n').value) || 1 }));
  $('[data-action=fit]').addEventListener('click', () => map.fitFleet());
  $('[data-action=logout]').addEventListener('click', () => void api('POST', '/api/logout').finally(() => location.reload()));

  const apply = (ds: DeviceView[], alarms: Alarm[]) => {
    for (const d of ds) {
      devices.set(d.device, d);
      map.update(d);
      list.update(d);
    }
    for (const a of alarms) banner.update(a);
    $('#count').textContent = `${devices.size} devices, ${[...devices.values()].filter((d) => d.online && d.recording === 'recording').length} recording`;
  };

  const connect = () => {
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) {
        const { h, data } = decodeFrame(e.data);
        if (closedBeforeNamed(h.live, h.device)) return;
        const p = players.get(h.device) ?? player(h.device);
        p.liveId ??= h.live;
        p.frame(h, data);
        return;
      }
      const m = JSON.parse(String(e.data)) as { type: string; devices?: DeviceView[]; alarms?: Alarm[]; live?: string; device?: string; why?: string; error?: string };
      if (m.type === 'snapshot' || m.type === 'update') apply(m.devices ?? [], m.alarms ?? []);
      else if (m.type === 'live-started') {
        if (closedBeforeNamed(m.live!, m.device!)) return;
        const p = player(m.device!);
        p.liveId = m.live;
        // The end may overtake the start (a feed refused at once).
        const why = endedEarly.get(m.live!);
        if (why !== undefined) p.ended(why);
        else if (!p.frames) p.setStatus('waiting for the first frame…');
      } else if (m.type === 'live-ended') {
        if (closed.has(m.live!)) return;
        const p = [...players.values()].find((x) => x.liveId === m.live);
        if (p) p.ended(m.why ?? '');
        else endedEarly.set(m.live!, m.why ?? '');
      } else if (m.type === 'live-error') {
        if (m.device) players.get(m.device)?.ended(m.error ?? 'failed');
        notice(`live view: ${m.error}`);
      }
    };
    ws.onclose = () => {
      $('#conn').textContent = 'reconnecting…';
      setTimeout(connect, 2000);
    };
    ws.onopen = () => ($('#conn').textContent = '');
  };
  connect();
}

void boot();
