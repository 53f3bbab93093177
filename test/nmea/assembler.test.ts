import t from 'tap';
import { NmeaDecoder, decodeNmea } from '../../drivers/nmea/nmea-decoder.js';
import { nmeaSentence } from '../../sim/gnss/nmea-writer.js';

function s(body: string): string {
  let sum = 0;
  for (const ch of body) sum ^= ch.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}
const bytes = (lines: string[]) => Buffer.from(lines.join(''), 'latin1');

/** A multi-GNSS receiver cycle: RMC, GGA, one GNGSA per system (NMEA 4.10), GSV with signal ids. */
function cycle(time: string, date: string, opts: { status?: string; quality?: number } = {}): string[] {
  return [
    s(`GNRMC,${time},${opts.status ?? 'A'},3003.0000,N,12109.0000,E,1.000,45.0,${date},,,A,V`),
    s(`GNGGA,${time},3003.0000,N,12109.0000,E,${opts.quality ?? 1},09,0.8,12.3,M,8.1,M,,`),
    s('GNGSA,A,3,01,02,03,04,,,,,,,,,1.2,0.8,0.9,1'),
    s('GNGSA,A,3,11,12,,,,,,,,,,,1.2,0.8,0.9,4'),
    s('GNGSA,A,3,05,,,,,,,,,,,,1.2,0.8,0.9,3'),
    s('GPGSV,2,1,05,01,40,083,46,02,17,308,41,03,07,344,39,04,22,228,45,1'),
    s('GPGSV,2,2,05,193,30,100,40,1'),
    s('GBGSV,1,1,03,11,40,083,46,12,17,308,41,13,07,344,,1'),
    s('GAGSV,1,1,01,05,40,083,46,7'),
    s('GAGSV,1,1,01,05,40,083,46,2'),
  ];
}

t.test('10 Hz with milliseconds, one fix per epoch, constellations', async (t) => {
  const lines: string[] = [];
  for (let k = 0; k < 20; k++) lines.push(...cycle(`235959.${k < 10 ? '' : ''}${String((k % 10) * 10).padStart(2, '0')}`.replace(/^235959/, k < 10 ? '235958' : '235959'), '311224'));
  const epochs = decodeNmea(bytes(lines));
  const fixes = epochs.filter((e) => e.fix).map((e) => e.fix!);
  t.equal(fixes.length, 20);
  t.equal(new Date(fixes[0]!.timeMs).toISOString(), '2024-12-31T23:59:58.000Z');
  t.equal(new Date(fixes[13]!.timeMs).toISOString(), '2024-12-31T23:59:59.300Z');
  t.match(fixes[5], { lat: 30.05, mode: 3, alt: 12.3, hdop: 0.8, sats: 9, course: 45 });
  t.ok(Math.abs(fixes[5]!.lon - 121.15) < 1e-9);
  t.ok(Math.abs(fixes[5]!.speed! - 0.51444) < 1e-4, 'knots to m/s');
  const g = epochs[10]!.gnss;
  t.same(g.sats, { gps: { used: 4, inView: 4 }, beidou: { used: 2, inView: 3 }, galileo: { used: 1, inView: 1 }, qzss: { used: 0, inView: 1 } });
  t.equal(g.mode, 3);
});

t.test('midnight rollover: a date-less GGA after 23:59:59 is the next day', async (t) => {
  const epochs = decodeNmea(bytes([
    s('GPRMC,235959.00,A,3003.0000,N,12109.0000,E,0.0,0.0,311224,,'),
    s('GPGGA,235959.00,3003.0000,N,12109.0000,E,1,08,0.9,10.0,M,,M,,'),
    s('GPGGA,000000.00,3003.0000,N,12109.0000,E,1,08,0.9,10.0,M,,M,,'),
    s('GPGGA,000001.00,3003.0000,N,12109.0000,E,1,08,0.9,10.0,M,,M,,'),
  ]));
  const times = epochs.filter((e) => e.fix).map((e) => new Date(e.fix!.timeMs).toISOString());
  t.same(times, ['2024-12-31T23:59:59.000Z', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:01.000Z']);
});

t.test('no fix from status V, quality 0, empty fields, a 1980 date, (0,0)', async (t) => {
  const epochs = decodeNmea(bytes([
    ...cycle('120000.00', '010125', { status: 'V' }).slice(0, 1),
    s('GPGGA,120001.00,3003.0000,N,12109.0000,E,0,08,0.9,10.0,M,,M,,'),
    s('GPRMC,120002.00,A,,,,,0.0,0.0,010125,,'),
    s('GPRMC,120003.00,A,3003.0000,N,12109.0000,E,0.0,0.0,060180,,'),
    s('GPRMC,120004.00,A,0000.0000,N,00000.0000,E,0.0,0.0,010125,,'),
    s('GPGGA,120005.00,3003.0000,N,12109.0000,E,1,,,,M,,M,,'),
  ]));
  t.same(epochs.filter((e) => e.fix), []);
});

t.test('an epoch comes out with the sentence that completes it', async (t) => {
  const d = new NmeaDecoder();
  const got: number[] = [];
  let k = 0;
  for (const line of [...cycle('100000.00', '010125'), ...cycle('100001.00', '010125'), ...cycle('100002.00', '010125')]) {
    k++;
    for (const e of d.push(Buffer.from(line))) if (e.fix) got.push(k);
  }
  // Cycle 1 ends when cycle 2 starts (line 11); from then on the learned ender (GGA) closes the cycle at once.
  t.same(got, [11, 12, 22]);
  t.same(d.end().filter((e) => e.fix), []);
});

t.test('a sentence that lags its cycle is skipped and costs later epochs nothing', async (t) => {
  const hms = (s: number) => `0900${String(s).padStart(2, '0')}.00`;
  const epochs = (lagAt: number | undefined, order: 'rmc-first' | 'gga-first') => {
    let text = '';
    for (let s = 0; s < 30; s++) {
      const rmc = nmeaSentence(`GPRMC,${hms(s)},A,3003.5831,N,12109.4506,E,1.5,90.0,051226,,,A`) + '\r\n';
      // The lagging GGA carries a time 5 s old (its RMC is on time).
      const gga = nmeaSentence(`GPGGA,${hms(s === lagAt ? s - 5 : s)},3003.5831,N,12109.4506,E,1,08,0.9,12.3,M,0,M,,`) + '\r\n';
      text += order === 'rmc-first' ? rmc + gga : gga + rmc;
    }
    const d = new NmeaDecoder();
    const out = [...d.push(Buffer.from(text)), ...d.end()];
    return { fixes: out.map((e) => e.fix).filter((f) => f !== undefined), stale: d.counters().stale };
  };
  for (const order of ['rmc-first', 'gga-first'] as const) {
    const clean = epochs(undefined, order);
    const lagged = epochs(10, order);
    t.equal(lagged.stale, 1, `${order}: the lagging sentence is counted as stale`);
    t.notOk(lagged.fixes.some((f, i) => i > 0 && f.timeMs <= lagged.fixes[i - 1]!.timeMs), `${order}: no fix goes back in time`);
    const after = lagged.fixes.filter((f) => f.timeMs > Date.UTC(2026, 11, 5, 9, 0, 10));
    t.equal(after.length, 19, `${order}: every later epoch has its fix`);
    t.ok(after.every((f) => f.speed !== undefined && f.alt !== undefined && f.hdop !== undefined && f.sats !== undefined), `${order}: with all its fields`);
    t.same(after, clean.fixes.filter((f) => f.timeMs > Date.UTC(2026, 11, 5, 9, 0, 10)), `${order}: as without the lag`);
  }
  // A clock that really went back is followed after one sentence, not ignored for ever.
  let text = '';
  for (const s of [20, 21, 22, 5, 6, 7, 8]) {
    text += nmeaSentence(`GPRMC,${hms(s)},A,3003.5831,N,12109.4506,E,1.5,90.0,051226,,,A`) + '\r\n';
    text += nmeaSentence(`GPGGA,${hms(s)},3003.5831,N,12109.4506,E,1,08,0.9,12.3,M,0,M,,`) + '\r\n';
  }
  const d = new NmeaDecoder();
  const times = [...d.push(Buffer.from(text)), ...d.end()].map((e) => e.fix && new Date(e.fix.timeMs).getUTCSeconds());
  t.ok(times.includes(7) && times.includes(8), `fixes after the clock went back: ${times.join(',')}`);
});
