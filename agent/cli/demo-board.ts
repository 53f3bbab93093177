import type { Agent } from '../agent.js';

/**
 * The demo's live view: one line per camera, redrawn in place on a terminal,
 * printed every few seconds when the output is a file or a pipe.
 */
export class DemoBoard {
  /** What the columns mean, printed once above the board. */
  static readonly legend =
    'columns: device, officer, last position, recording (REC / pre-record / off), battery (+ charging),\n' +
    '  fixes in: fixes decoded from the camera\'s GNSS port; reported: fixes the reporting policy sent on as positions\n' +
    '  (fewer when standing still or walking slowly; never more than fixes in)';

  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;
  private ticks = 0;

  constructor(
    private readonly agent: Agent,
    private readonly out: NodeJS.WriteStream,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  lines(): string[] {
    const a = this.agent;
    const up = a.session.up;
    const stats = a.buffer.stats();
    const head = `broker ${up ? `connected (session ${up.session}, MQTT ${up.protocolVersion === 5 ? '5' : '3.1.1'})` : 'DISCONNECTED'}  buffered ${stats.rows}`;
    const rows = [...a.devices.values()].map((d) => {
      const f = d.lastFix;
      const pos = f ? `${f.lat.toFixed(6)},${f.lon.toFixed(6)}` : 'no fix yet';
      const st = d.cameraStatus;
      const rec = st ? (st.recording === 'recording' ? 'REC' : st.recording === 'pre-record' ? 'pre' : 'off') : '?';
      const batt = st?.batteryPct !== undefined ? `${st.batteryPct}%${st.charging ? '+' : ''}` : '?';
      const officer = d.identity ? `${d.identity.officerNumber}` : '------';
      return `${d.settings.id.padEnd(10)} ${officer}  ${pos.padEnd(22)} rec ${rec.padEnd(3)} batt ${batt.padEnd(5)} fixes in ${String(d.fixesIn).padStart(5)} reported ${String(d.fixesReported).padStart(5)}${d.gnssConnected ? '' : '  GNSS PORT DOWN'}`;
    });
    return [head, ...rows];
  }

  private draw(): void {
    this.ticks++;
    const lines = this.lines();
    if (this.out.isTTY) {
      if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A`);
      this.out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
      this.drawnLines = lines.length;
    } else if (this.ticks % 5 === 0) {
      this.out.write(lines.join('\n') + '\n');
    }
  }

  finalReport(): string {
    return ['demo finished:', ...this.lines()].join('\n') + '\n';
  }
}
