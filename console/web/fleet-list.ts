import { el } from './api.js';
import type { DeviceView } from './types.js';

function age(ms: number, now: number): string {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;
}

function gb(bytes: number | undefined): string {
  return bytes === undefined ? '—' : `${(bytes / 1e9).toFixed(1)} GB`;
}

/** Text a search matches: officer number, name, unit, device id, serial. */
function haystack(v: DeviceView): string {
  return [v.device, v.serial, v.officer?.number, v.officer?.name, v.officer?.unit, v.officer?.unitName].filter(Boolean).join(' ').toLowerCase();
}

export interface RowActions {
  snapshot(device: string): void;
  live(device: string): void;
  clip(device: string): void;
  select(device: string): void;
}

/**
 * The fleet table: one row per device (data-device), every value set as
 * text. Rows are made once and updated in place.
 */
export class FleetList {
  private readonly rows = new Map<string, { tr: HTMLTableRowElement; cells: HTMLTableCellElement[]; text: string }>();
  private readonly views = new Map<string, DeviceView>();
  private query = '';

  constructor(private readonly tbody: HTMLTableSectionElement, search: HTMLInputElement, private readonly actions: RowActions, private readonly canCommand: boolean) {
    search.addEventListener('input', () => {
      this.query = search.value.trim().toLowerCase();
      for (const [d, r] of this.rows) r.tr.hidden = !this.matches(this.views.get(d)!);
    });
    setInterval(() => this.refreshAges(), 5000);
  }

  private matches(v: DeviceView): boolean {
    return !this.query || haystack(v).includes(this.query);
  }

  update(v: DeviceView): void {
    this.views.set(v.device, v);
    let r = this.rows.get(v.device);
    if (!r) {
      const tr = el('tr', { 'data-device': v.device });
      const cells = Array.from({ length: 9 }, () => el('td'));
      const act = el('td', { class: 'actions' });
      for (const kind of ['snapshot', 'live', 'clip'] as const) {
        const b = el('button', { 'data-action': kind, type: 'button', title: `${kind} from ${v.device}` }, kind);
        b.disabled = !this.canCommand;
        b.addEventListener('click', (e) => {
          e.stopPropagation();
          this.actions[kind](v.device);
        });
        act.append(b);
      }
      tr.append(...cells, act);
      tr.addEventListener('click', () => this.actions.select(v.device));
      r = { tr, cells, text: '' };
      this.rows.set(v.device, r);
      // Sorted by device id.
      const after = [...this.rows.keys()].sort().find((d) => d > v.device);
      this.tbody.insertBefore(tr, after ? this.rows.get(after)!.tr : null);
    }
    const now = Date.now();
    const vals = [
      v.officer?.number ?? '—',
      v.officer?.name ?? '—',
      v.officer ? [v.officer.unit, v.officer.unitName].filter(Boolean).join(' ') : '—',
      `${v.device}${v.serial ? ` / ${v.serial}` : ''}`,
      v.battery === undefined ? '—' : `${v.battery}%${v.charging ? ' ⚡' : ''}`,
      v.storageFree === undefined ? '—' : `${gb(v.storageFree)} free`,
      v.gnss ? `${v.gnss.mode >= 2 ? `${v.gnss.mode}D` : 'no fix'} · ${v.gnss.used} sats · HDOP ${v.gnss.hdop.toFixed(1)}` : '—',
      v.recording.replace('_', '-'),
      age(v.lastSeenMs, now),
    ];
    vals.forEach((t, i) => {
      if (r!.cells[i]!.textContent !== t) r!.cells[i]!.textContent = t;
    });
    r.tr.className = `rec-${v.recording}${v.online ? '' : ' offline'}`;
    r.tr.hidden = !this.matches(v);
  }

  private refreshAges(): void {
    const now = Date.now();
    for (const [d, r] of this.rows) r.cells[8]!.textContent = age(this.views.get(d)!.lastSeenMs, now);
  }

  highlight(device: string | undefined): void {
    for (const [d, r] of this.rows) r.tr.classList.toggle('selected', d === device);
    if (device) this.rows.get(device)?.tr.scrollIntoView({ block: 'nearest' });
  }
}
