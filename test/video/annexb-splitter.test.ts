import t from 'tap';
import { AccessUnitSplitter, addEmulationPrevention, nalType, removeEmulationPrevention, splitNals } from '../../drivers/video/annexb.js';
import { ArrivalClock } from '../../drivers/video/ffmpeg-video-source.js';

// NAL units by hand: the header byte, then a first byte whose top bit is
// first_mb_in_slice == 0 for slices (1: the picture's first slice).
const AUD = [0x09, 0xf0];
const SPS = [0x67, 0x42, 0xc0, 0x0c, 0xda, 0x05];
const PPS = [0x68, 0xce, 0x3c, 0x80];
const SEI = [0x06, 0x05, 0x02, 0xaa, 0xbb, 0x80];
const IDR_FIRST = [0x65, 0x88, 0x84, 0x21];
const IDR_MORE = [0x65, 0x05, 0x29, 0x80];
const P_FIRST = [0x41, 0x9a, 0x22, 0x11];
const P_MORE = [0x41, 0x05, 0x2a, 0x40];

const annexB = (...nals: number[][]) => Buffer.concat(nals.map((n) => Buffer.from([0, 0, 0, 1, ...n])));
/** The NAL types of each unit, e.g. "9,7,8,5,5". */
const shape = (units: Buffer[]) => units.map((u) => splitNals(u).map(nalType).join(','));

function cut(stream: Buffer, chunk = stream.length): Buffer[] {
  const units: Buffer[] = [];
  const s = new AccessUnitSplitter((u) => units.push(u));
  for (let i = 0; i < stream.length; i += chunk) s.push(stream.subarray(i, i + chunk));
  s.flush();
  return units;
}

t.test('RTSP through ffmpeg: SPS/PPS in front of every IDR slice stay in their picture, repeats left out', async (t) => {
  // What ffmpeg writes for a two-slice stream read over RTSP with dump_extra:
  // parameter sets before each IDR slice, and the server's own before the AUD.
  const stream = annexB(
    AUD, SPS, PPS, SPS, PPS, IDR_FIRST, SPS, PPS, IDR_MORE,
    AUD, P_FIRST, P_MORE,
    AUD, P_FIRST, P_MORE,
    SPS, PPS, AUD, SPS, PPS, IDR_FIRST, SPS, PPS, IDR_MORE,
    AUD, P_FIRST, P_MORE,
  );
  const want = ['9,7,8,5,5', '9,1,1', '9,1,1', '9,7,8,5,5', '9,1,1'];
  t.same(shape(cut(stream)), want, 'one unit per picture, AUD first, one SPS and one PPS');
  t.same(cut(stream)[0], annexB(AUD, SPS, PPS, IDR_FIRST, IDR_MORE), 'the bytes of the keyframe unit');
  for (const chunk of [1, 3, 7, 64]) t.same(shape(cut(stream, chunk)), want, `the same cut when the bytes come ${chunk} at a time`);
});

t.test('streams without AUDs: SEI/SPS/PPS after a slice open the next unit with its first slice', async (t) => {
  const stream = annexB(SPS, PPS, IDR_FIRST, IDR_MORE, P_FIRST, P_MORE, P_FIRST, SEI, SPS, PPS, IDR_FIRST, P_FIRST);
  t.same(shape(cut(stream)), ['7,8,5,5', '1,1', '1', '6,7,8,5', '1']);
});

t.test('x264 with AUDs and repeated headers (the simulator, MJPEG transcoding): cut as before', async (t) => {
  const stream = annexB(AUD, SPS, PPS, SEI, IDR_FIRST, AUD, P_FIRST, AUD, P_FIRST, AUD, SPS, PPS, IDR_FIRST);
  t.same(shape(cut(stream)), ['9,7,8,6,5', '9,1', '9,1', '9,7,8,5']);
});

t.test('arrival times: bursts spread to half the frame interval, regular arrival kept, no drift', async (t) => {
  const clock = new ArrivalClock(15);
  const at = (ms: number[]) => ms.map((m) => clock.pts(m) / 1000);
  // 15 fps, then three units in one burst after a 200 ms hiccup, then regular again.
  const regular = at([1000, 1067, 1133, 1200, 1267, 1333]);
  t.same(regular, [0, 67, 133, 200, 267, 333], 'on time: the arrival times');
  const burst = at([1533, 1533, 1534]);
  t.ok(burst[1]! - burst[0]! >= 30 && burst[2]! - burst[1]! >= 30, `a burst is spread (${burst.join(', ')})`);
  const after = at([1600, 1667, 1733, 1800]);
  t.ok(after.every((p, i) => p >= [600, 667, 733, 800][i]!), `never before arrival (${after.join(', ')})`);
  t.same(after.slice(2), [733, 800], 'and on arrival again within a few units');
  const c2 = new ArrivalClock(15);
  let last = -1;
  let increasing = true;
  for (let i = 0; i < 300; i++) {
    const p = c2.pts(1000 + Math.floor(i / 3) * 100); // three at once every 100 ms: 30 fps on average
    if (p <= last) increasing = false;
    last = p;
  }
  t.ok(increasing, 'strictly increasing, even when every unit comes in a burst');
  t.ok(Math.abs(last / 1000 - 9900) < 120, `no drift from arrival (${last / 1000} ms for 9900 ms)`);
});

t.test('emulation prevention bytes: taken out as the byte-by-byte rule does, on random and zero-heavy data', async (t) => {
  const byRule = (ebsp: Buffer) => {
    const out: number[] = [];
    let zeros = 0;
    for (const b of ebsp) {
      if (zeros >= 2 && b === 3) {
        zeros = 0;
        continue;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return Buffer.from(out);
  };
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let same = true;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => [0, 0, 0, 3, 1, 0xff][Math.floor(rand() * 6)]!));
    if (!removeEmulationPrevention(b).equals(byRule(b))) same = false;
    const rbsp = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => [0, 0, 1, 2, 3, 0x80][Math.floor(rand() * 6)]!));
    if (!removeEmulationPrevention(addEmulationPrevention(rbsp)).equals(rbsp)) same = false;
  }
  t.ok(same, '2000 random inputs, and every RBSP comes back from its escaped form');
  const plain = Buffer.from([0x42, 0, 1, 2]);
  t.equal(removeEmulationPrevention(plain), plain, 'nothing to take out: no copy');
});
