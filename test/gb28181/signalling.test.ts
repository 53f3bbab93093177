import t from 'tap';
import { gbTime } from '../../agent/gb28181/manscdp-xml.js';
import { received, startSippPlatform, type LoggedSip } from '../helpers/sipp-platform.js';
import { captureLog, CHAN_A, CHAN_B, DEVICE_ID, DOMAIN, PASSWORD, SERVER_ID, startDevice, TwoCameras } from './gb-rig.js';

const sent = (ms: LoggedSip[], start: RegExp) => ms.filter((m) => m.direction === 'sent' && start.test(m.startLine));
const header = (m: LoggedSip, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(m.headers)?.[1]?.trim();

for (const transport of ['UDP', 'TCP'] as const) {
  t.test(`SIPp platform over ${transport}: digest registration, queries, bad requests, MobilePosition, alarm, unregister`, async (t) => {
    const cams = new TwoCameras();
    t.teardown(() => cams.close());
    const now = Date.now();
    const sipp = await startSippPlatform(t, {
      scenario: 'platform.xml',
      transport,
      keys: { server: SERVER_ID, domain: DOMAIN, devid: DEVICE_ID, chan: CHAN_A, password: PASSWORD, rstart: gbTime(now - 4 * 3_600_000), rend: gbTime(now) },
    });
    const { log, lines } = captureLog();
    const dev = startDevice(t, { port: sipp.port, transport, source: cams, log });
    const clock = new Promise<{ platformDate: string; offsetMs: number }>((r) => dev.registrar.once('clock', r));
    await dev.start();

    // Registration: challenged, answered with an MD5 digest the platform verified.
    const reg = await sipp.waitFor('the registration', (ms) => sent(ms, /^SIP\/2\.0 200/).some((m) => /REGISTER/.test(header(m, 'CSeq') ?? '')));
    const regs = received(reg, /^REGISTER /);
    t.equal(regs.length, 2, 'REGISTER, then REGISTER with credentials');
    t.match(header(regs[1]!, 'Authorization'), /^Digest username="34020000001180000005", realm="3402000000", nonce="[^"]+", uri="sip:34020000002000000001@3402000000", response="[0-9a-f]{32}", algorithm=MD5/);
    t.equal(header(regs[0]!, 'Call-ID'), header(regs[1]!, 'Call-ID'), 'one Call-ID for the registration');
    t.match(header(regs[0]!, 'CSeq'), /^1 REGISTER$/);
    t.match(header(regs[1]!, 'CSeq'), /^2 REGISTER$/, 'CSeq rises');
    t.match(header(regs[1]!, 'Via'), /branch=z9hG4bK/);
    t.match(header(regs[1]!, 'From'), /tag=[0-9a-f]{12}/);
    t.match(header(regs[1]!, 'Expires'), '3600');
    const reported = await clock;
    t.equal(reported.platformDate, '2026-12-05T14:03:07.250', 'the platform clock is reported');
    t.ok(Math.abs(reported.offsetMs - (new Date(2026, 11, 5, 14, 3, 7, 250).getTime() - Date.now())) < 60_000, 'with its offset from the agent clock');
    t.ok(Math.abs(Date.now() - now) < 60_000, 'and not applied');
    t.equal(dev.registrar.state, 'registered');

    // Sos while registered: an Alarm notification.
    cams.pressSos('BWC-0001');

    // Every query gets its answer; the platform's end of the subscription comes last.
    const all = await sipp.waitFor('the MobilePosition query answer and the alarm', (ms) =>
      received(ms, /^MESSAGE /, /<CmdType>MobilePosition<\/CmdType>/).length >= 1 && received(ms, /^MESSAGE /, /<CmdType>Alarm<\/CmdType>/).length >= 1,
    );
    const answer = (cmd: string) => received(all, /^MESSAGE /, new RegExp(`<Response>[\\s\\S]*<CmdType>${cmd}</CmdType>`));
    const catalog = answer('Catalog');
    t.equal(catalog.length, 1, 'Catalog in one document');
    const cat = catalog[0]!.body;
    t.match(cat, /^<\?xml version="1.0" encoding="GB2312"\?>/);
    t.match(cat, /<SN>101<\/SN>/, 'the SN of the query');
    t.match(cat, /<SumNum>2<\/SumNum>/);
    t.match(cat, /<DeviceList Num="2">/);
    t.match(cat, new RegExp(`<DeviceID>${CHAN_A}</DeviceID>\\s*<Name>010001 张三</Name>`), 'name: officer number and name (GB2312)');
    t.match(cat, new RegExp(`<DeviceID>${CHAN_B}</DeviceID>\\s*<Name>010002 李四</Name>`));
    t.match(cat, /<Status>ON<\/Status>[\s\S]*<Longitude>121\.\d{6}<\/Longitude>\s*<Latitude>30\.\d{6}<\/Latitude>[\s\S]*<Status>OFF<\/Status>/);
    t.notMatch(cat.split(CHAN_B)[1]!, /Longitude/, 'no position for a camera without a fix');
    t.match(header(catalog[0]!, 'Content-Type'), /^Application\/MANSCDP\+xml$/i);
    t.not(header(catalog[0]!, 'Call-ID'), header(regs[0]!, 'Call-ID'), 'an answer is a new request with its own Call-ID');
    const info = answer('DeviceInfo')[0]!.body;
    t.match(info, /<SN>102<\/SN>[\s\S]*<Result>OK<\/Result>[\s\S]*<Channel>2<\/Channel>/);
    const status = answer('DeviceStatus')[0]!.body;
    t.match(status, new RegExp(`<SN>103</SN>\\s*<DeviceID>${CHAN_A}</DeviceID>[\\s\\S]*<Online>ONLINE</Online>[\\s\\S]*<Record>ON</Record>`));
    const recs = answer('RecordInfo')[0]!.body;
    t.match(recs, /<SN>104<\/SN>[\s\S]*<SumNum>2<\/SumNum>[\s\S]*<RecordList Num="2">/, 'the two recordings in the last 4 hours, not the one of yesterday');
    t.match(recs, /<FilePath>REC-1<\/FilePath>[\s\S]*<Type>manual<\/Type>[\s\S]*<FilePath>REC-2<\/FilePath>[\s\S]*<Type>alarm<\/Type>/);
    t.match(recs, new RegExp(`<StartTime>${gbTime(cams.recordingList[0]!.startMs)}</StartTime>`));

    // Bad requests: clear SIP errors and a log line each.
    const errs = sent(all, /^SIP\/2\.0 (40[02-9]|4[1-9]\d|5\d\d)/);
    t.ok(all.some((m) => m.direction === 'received' && /^SIP\/2\.0 400/.test(m.startLine) && /CmdType 'Teleport' is not supported/.test(m.headers)), '400 for an unknown CmdType, with the reason');
    t.ok(all.some((m) => m.direction === 'received' && /^SIP\/2\.0 404/.test(m.startLine) && /unknown device or channel 34020000001329999999/.test(m.headers)), '404 for an unknown device');
    t.ok(all.some((m) => m.direction === 'received' && /^SIP\/2\.0 400/.test(m.startLine) && /bad header line 'This line is no header'/.test(m.headers)), '400 for a malformed message');
    t.equal(errs.length, 0, 'the platform refused nothing of the device');
    t.ok(lines.some((l) => l.msg === 'malformed SIP message' && /This line is no header/.test(String(l.reason))), 'logged: malformed message');
    t.ok(lines.some((l) => l.msg === 'request refused' && /Teleport/.test(String(l.why))), 'logged: unknown CmdType');

    // MobilePosition: NOTIFYs in the subscription dialog, ended at expiry.
    const notifies = received(all, /^NOTIFY /);
    t.ok(notifies.length >= 4, `NOTIFYs until the refreshed subscription expired (${notifies.length})`);
    const last = notifies[notifies.length - 1]!;
    t.match(header(last, 'Subscription-State'), /^terminated;reason=timeout$/, 'expiry ends it');
    for (const n of notifies.slice(0, -1)) {
      t.match(header(n, 'Subscription-State'), /^active;expires=\d+$/);
      t.match(n.body, new RegExp(`<CmdType>MobilePosition</CmdType>[\\s\\S]*<DeviceID>${CHAN_A}</DeviceID>\\s*<Time>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d</Time>\\s*<Longitude>121\\.\\d+</Longitude>\\s*<Latitude>30\\.\\d+</Latitude>\\s*<Speed>5\\.0</Speed>\\s*<Direction>45\\.0</Direction>\\s*<Altitude>12\\.3</Altitude>`));
      t.notMatch(n.body, new RegExp(CHAN_B), 'a camera without a fix sends none');
      t.match(header(n, 'Event'), /^presence/);
    }
    const cseqs = notifies.map((n) => Number(/^(\d+)/.exec(header(n, 'CSeq') ?? '')?.[1]));
    t.same(cseqs, [...cseqs].sort((a, b) => a - b), 'NOTIFY CSeq rises in the dialog');
    t.equal(new Set(notifies.map((n) => header(n, 'Call-ID'))).size, 1, 'one dialog');
    t.equal(dev.positions.count, 0, 'subscription gone after expiry');
    const times = notifies.slice(0, -1).map((n) => /<Time>([^<]+)</.exec(n.body)![1]);
    t.ok(new Set(times).size >= times.length - 1 || times.length < 2, 'each NOTIFY a newer fix (second resolution)');

    const alarm = received(all, /^MESSAGE /, /<CmdType>Alarm<\/CmdType>/)[0]!.body;
    t.match(alarm, new RegExp(`<Notify>[\\s\\S]*<DeviceID>${CHAN_A}</DeviceID>\\s*<AlarmPriority>1</AlarmPriority>\\s*<AlarmMethod>7</AlarmMethod>[\\s\\S]*<AlarmDescription>SOS 010001 张三</AlarmDescription>\\s*<Longitude>121\\.`));
    const keepalives = received(all, /^MESSAGE /, /<CmdType>Keepalive<\/CmdType>/);
    t.ok(keepalives.length >= 1, `keepalives every second (${keepalives.length})`);
    t.match(keepalives[0]!.body, new RegExp(`<DeviceID>${DEVICE_ID}</DeviceID>\\s*<Status>OK</Status>`));
    const sns = received(all, /^MESSAGE /, /<Notify>/).map((m) => Number(/<SN>(\d+)</.exec(m.body)![1]));
    t.equal(new Set(sns).size, sns.length, 'every notification its own SN');

    // Stop: unregister with Expires: 0, answered.
    await dev.stop();
    const end = await sipp.waitFor('the unregister', (ms) => received(ms, /^REGISTER /).some((m) => header(m, 'Expires') === '0' && /Authorization/.test(m.headers)));
    t.ok(end.length > 0);
    t.equal(sipp.errors().match(/Aborting call|unexpected/gi)?.length ?? 0, 0, `SIPp saw nothing unexpected: ${sipp.errors().slice(0, 500)}`);
  });
}
