import { api, el } from './api.js';
import type { Alarm, DeviceView } from './types.js';

const LABELS: Record<string, string> = {
  sos: 'SOS',
  low_battery: 'Low battery',
  storage_full: 'Storage full',
  tamper: 'Tamper',
  camera_disconnected: 'Camera disconnected',
};

/**
 * The alarm banner: one line per open alarm (data-alarm="<event>"), staying
 * until someone acknowledges it; a tone while any is open, when sound is on.
 */
export class AlarmBanner {
  private readonly shown = new Map<string, HTMLElement>();
  private audio: AudioContext | undefined;
  private beeper: number | undefined;

  constructor(private readonly root: HTMLElement, private readonly sound: HTMLInputElement, private readonly devices: Map<string, DeviceView>) {}

  update(a: Alarm): void {
    const existing = this.shown.get(a.id);
    if (a.ack) {
      existing?.remove();
      this.shown.delete(a.id);
      this.tone();
      return;
    }
    if (existing) return;
    const v = this.devices.get(a.device);
    const who = v?.officer ? ` — officer ${v.officer.number} ${v.officer.name}` : '';
    const line = el('div', { class: `alarm alarm-${a.event}`, 'data-alarm': a.event, role: 'alert' });
    line.append(
      el('strong', {}, LABELS[a.event] ?? a.event),
      el('span', {}, ` ${a.device}${who} at ${new Date(a.timeMs).toLocaleTimeString()}${a.detail ? ` (${a.detail})` : ''}`),
    );
    const ack = el('button', { type: 'button', 'data-action': 'ack' }, 'Acknowledge');
    ack.addEventListener('click', () => {
      ack.disabled = true;
      api<Alarm>('POST', `/api/alarms/${encodeURIComponent(a.id)}/ack`).then((r) => this.update(r), () => (ack.disabled = false));
    });
    line.append(ack);
    this.root.prepend(line);
    this.shown.set(a.id, line);
    this.tone();
  }

  private tone(): void {
    const want = this.shown.size > 0 && this.sound.checked;
    if (want && this.beeper === undefined) {
      this.audio ??= new AudioContext();
      const beep = () => {
        const ctx = this.audio!;
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = 880;
        g.gain.value = 0.1;
        o.connect(g).connect(ctx.destination);
        o.start();
        o.stop(ctx.currentTime + 0.25);
      };
      beep();
      this.beeper = window.setInterval(beep, 2000);
    } else if (!want && this.beeper !== undefined) {
      clearInterval(this.beeper);
      this.beeper = undefined;
    }
  }

  soundChanged(): void {
    this.tone();
  }
}
