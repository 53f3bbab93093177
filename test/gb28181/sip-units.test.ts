import t from 'tap';
import { digestAuthorization, parseChallenge } from '../../agent/gb28181/digest-auth.js';
import { header, headerParam, parseSip, serializeSip, SipParseError } from '../../agent/gb28181/sip-message.js';
import { crc32Mpeg2, muxPs } from '../../agent/gb28181/ps-muxer.js';
import { RtpPacketizer } from '../../agent/gb28181/rtp-packetizer.js';
import { parseOffer, answerSdp } from '../../agent/gb28181/sdp.js';
import { decodeBody, manscdp, parseXml, childText } from '../../agent/gb28181/manscdp-xml.js';

t.test('digest: the RFC 2617 example, and MD5 without qop', async (t) => {
  const c = parseChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')!;
  const v = digestAuthorization(c, { username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: '0a4f113b' });
  t.match(v, /response="6629fae49393a05397450978507c4ef1"/);
  t.match(v, /opaque="5ccc069c403ebaf9f0171e9517f40e41"/);
  t.throws(() => digestAuthorization({ ...c, algorithm: 'SHA-256' }, { username: 'a', password: 'b', method: 'REGISTER', uri: 'sip:x' }), /SHA-256 is not supported/);
  t.equal(parseChallenge('Basic realm="x"'), undefined);
});

t.test('SIP: compact headers, folding, Content-Length, round trip; bad input says why', async (t) => {
  const raw = Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h:1;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: c1\r\nCSeq: 2 MESSAGE\r\nSubject: one,\r\n two\r\nl: 5\r\n\r\nhelloEXTRA');
  const m = parseSip(raw);
  t.equal(m.kind, 'request');
  t.equal(header(m, 'call-id'), 'c1');
  t.equal(header(m, 'Subject'), 'one, two');
  t.equal(m.body.toString(), 'hello', 'body cut at Content-Length');
  t.equal(headerParam(header(m, 'from')!, 'tag'), '1');
  t.same(parseSip(serializeSip(m)).body.toString(), 'hello');
  t.throws(() => parseSip(Buffer.from('HELLO\r\n\r\n')), SipParseError);
  t.throws(() => parseSip(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n')), /CSeq method INVITE does not match MESSAGE/);
  t.throws(() => parseSip(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 9\r\n\r\nabc')), /Content-Length 9 but 3 body bytes/);
});

t.test('MANSCDP: GB2312 both ways, malformed XML refused', async (t) => {
  const body = manscdp('Notify', [['CmdType', 'Keepalive'], ['Name', '张三'], ['Skip', undefined]]);
  t.ok(body.includes(Buffer.from([0xd5, 0xc5])), '张 in GB2312');
  const doc = parseXml(decodeBody(body));
  t.equal(childText(doc, 'name'), '张三');
  t.notOk(childText(doc, 'Skip'), 'undefined values are left out');
  t.throws(() => parseXml('<Query><CmdType>Catalog</Query>'), /closes <CmdType>/);
  t.throws(() => parseXml('<Query>'), /never closed/);
});

t.test('PS and RTP: pack/system header/map on keyframes, PES split at 64 KiB, packets <= 1400 B', async (t) => {
  t.equal(crc32Mpeg2(Buffer.from('123456789')), 0x0376e6e7, 'CRC-32/MPEG-2 check value');
  const big = Buffer.alloc(150_000, 1);
  const ps = muxPs({ data: big, keyframe: true, pts90k: 2 ** 33 + 90_000 });
  t.equal(ps.subarray(0, 4).toString('hex'), '000001ba');
  t.equal(ps.subarray(14, 18).toString('hex'), '000001bb');
  const pes = [...ps.toString('latin1').matchAll(/\x00\x00\x01\xe0/g)].length;
  t.equal(pes, 3, '150 000 bytes in three PES packets');
  t.equal(muxPs({ data: Buffer.alloc(10, 1), keyframe: false, pts90k: 0 }).subarray(14, 18).toString('hex'), '000001e0', 'no system header on other frames');
  const rtp = new RtpPacketizer(0x05f5e101, 1400, 65535);
  const packets = rtp.packetize(ps, 1234);
  t.ok(packets.every((p) => p.length <= 1400));
  t.equal(packets.filter((p) => p[1]! & 0x80).length, 1, 'marker on the last packet only');
  t.equal(packets[1]!.readUInt16BE(2), 0, 'sequence wraps');
});

t.test('SDP: the offer WVP sends over TCP, and the answer', async (t) => {
  const offer = parseOffer('v=0\r\no=34020000001310000001 0 0 IN IP4 10.0.0.2\r\ns=Play\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=video 30000 TCP/RTP/AVP 96 97 98\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\na=setup:passive\r\na=connection:new\r\ny=0200000001\r\n');
  t.same([offer.transport, offer.setup, offer.port, offer.ssrc], ['TCP', 'passive', 30000, '0200000001']);
  const a = answerSdp({ deviceId: '34020000001310000001', host: '10.0.0.9', port: 40000, offer });
  t.match(a, /m=video 40000 TCP\/RTP\/AVP 96\r\n/);
  t.match(a, /a=setup:active/);
  t.match(a, /y=0200000001/);
  t.throws(() => parseOffer('v=0\r\ns=Play\r\nc=IN IP4 1.2.3.4\r\nm=video 1 RTP/AVP 96\r\n'), /no y= SSRC/);
});
