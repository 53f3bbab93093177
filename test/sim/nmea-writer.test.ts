import t from 'tap';
import type { TapTest } from '../helpers/tap-test.js';
import { decodeNmea } from '../../drivers/nmea/nmea-decoder.js';
import { nmeaXor } from '../../drivers/transport/nmea-checksum.js';
import type { Fix } from '../../protocol/fix.js';
import { NmeaWriter } from '../../sim/gnss/nmea-writer.js';
import { Patrol } from '../../sim/gnss/patrol.js';

function checkAll(t: TapTest, lines: string[]): void {
  for (const l of lines) {
    const m = /^\$([^*$]+)\*([0-9A-F]{2})$/.exec(l);
    t.ok(m && nmeaXor(m[1]!) === parseInt(m[2]!, 16), `valid checksum: ${l}`);
  }
}

t.test('each epoch: RMC, VTG, GGA, a GSA per system, GSV once a second; valid checksums; millisecond times', async (t) => {
  const p = new Patrol({ seed: 2, rateHz: 5 });
  const w = new NmeaWriter({ rateHz: 5, seed: 2 });
  const all: string[] = [];
  for (let i = 0; i < 25; i++) {
    const f = p.next();
    const lines = w.epoch(f.timeMs, f);
    all.push(...lines);
    const types = lines.map((l) => l.slice(1, 6));
    t.equal(types[0], 'GNRMC');
    t.ok(types.includes('GNGGA') && types.includes('GNVTG'));
    t.same(lines.filter((l) => l.startsWith('$GNGSA')).map((l) => l.split('*')[0]!.split(',').pop()), ['1', '2', '4'], 'GSA for GPS, GLONASS, BeiDou');
    const wholeSecond = f.timeMs % 1000 === 0;
    t.equal(types.includes('GPGSV') && types.includes('GLGSV') && types.includes('BDGSV'), wholeSecond, `sky view only on the whole second (${f.timeMs % 1000} ms)`);
    const ms = String(f.timeMs % 1000).padStart(3, '0');
    t.match(lines[0], new RegExp(`^\\$GNRMC,\\d{4}\\d{2}\\.${ms},A,`));
  }
  checkAll(t, all);
  t.ok(all.some((l) => l.startsWith('$GNZDA,')), 'ZDA now and then');
  t.ok(new NmeaWriter({ beidouTalker: 'GB' }).epoch(0, undefined).some((l) => l.startsWith('$GBGSV')), 'GB talker on request');
});

t.test('an epoch without a fix sends status V, quality 0 and empty fields', async (t) => {
  const lines = new NmeaWriter().epoch(Date.UTC(2026, 10, 25, 2, 0, 1, 0), undefined);
  checkAll(t, lines);
  t.match(lines.find((l) => l.startsWith('$GNRMC')), /^\$GNRMC,020001\.000,V,,,,,,,251126,,,N,V\*/);
  t.match(lines.find((l) => l.startsWith('$GNGGA')), /^\$GNGGA,020001\.000,,,,,0,00,25\.5,,,,,,\*/);
  t.ok(lines.filter((l) => l.startsWith('$GNGSA')).every((l) => l.startsWith('$GNGSA,A,1,,,,,,,,,,,,,')));
});

t.test('southern and western hemispheres, and minutes that round up to 60', async (t) => {
  const w = new NmeaWriter();
  const rmc = (f: Fix) => w.epoch(f.timeMs, f)[0]!;
  t.match(rmc({ timeMs: 0, lat: -33.8688, lon: -70.6693, mode: 3 }), /,3352\.12800,S,07040\.15800,W,/);
  t.match(rmc({ timeMs: 0, lat: 29.9999999999, lon: 120.9999999999, mode: 3 }), /,3000\.00000,N,12100\.00000,E,/);
});

t.test('the NMEA decoder reads the written epochs back as the same fixes (1, 5 and 10 Hz, with a tunnel)', async (t) => {
  for (const rateHz of [1, 5, 10] as const) {
    const p = new Patrol({ seed: 7, rateHz, startMs: Date.UTC(2026, 10, 25, 23, 59, 30) });
    const w = new NmeaWriter({ rateHz, seed: 7 });
    const want: Fix[] = [];
    let text = '';
    for (let i = 0; i < 60 * rateHz; i++) {
      const f = p.next();
      const tunnel = i >= 20 * rateHz && i < 25 * rateHz;
      text += w.epochText(f.timeMs, tunnel ? undefined : f);
      if (!tunnel) want.push(f);
    }
    const got = decodeNmea(Buffer.from(text, 'latin1')).flatMap((e) => (e.fix ? [e.fix] : []));
    t.equal(got.length, want.length, `${rateHz} Hz: one fix per epoch with a fix, none in the tunnel, across midnight`);
    let worst = 0;
    for (let i = 0; i < Math.min(got.length, want.length); i++) {
      const g = got[i]!, w2 = want[i]!;
      if (g.timeMs !== w2.timeMs) {
        t.fail(`${rateHz} Hz fix ${i}: time ${new Date(g.timeMs).toISOString()} != ${new Date(w2.timeMs).toISOString()}`);
        break;
      }
      worst = Math.max(worst, Math.abs(g.lat - w2.lat), Math.abs(g.lon - w2.lon));
      if (Math.abs(g.alt! - w2.alt!) > 0.05 || Math.abs(g.speed! - w2.speed!) > 0.01 || Math.abs(g.course! - w2.course!) > 0.01 || g.hdop !== w2.hdop || g.sats !== w2.sats || g.mode !== 3) {
        t.fail(`${rateHz} Hz fix ${i} differs: ${JSON.stringify(g)} vs ${JSON.stringify(w2)}`);
        break;
      }
    }
    t.ok(worst < 2e-7, `${rateHz} Hz: positions within 2e-7° (worst ${worst.toExponential(2)})`);
  }
});
