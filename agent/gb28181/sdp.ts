/**
 * The SDP of a GB/T 28181 INVITE (RFC 4566 plus GB's y= SSRC and f= media
 * lines) and the device's answer.
 */
export interface GbOffer {
  /** Play, Playback or Download. */
  session: string;
  host: string;
  port: number;
  transport: 'UDP' | 'TCP';
  /** For TCP: the platform's role (RFC 4145): passive = it listens and the device connects. */
  setup?: 'active' | 'passive';
  payloadTypes: number[];
  /** 10 decimal digits from y=. */
  ssrc: string;
  /** t= start and stop, Unix seconds (Playback/Download). */
  startS?: number;
  stopS?: number;
  /** u= (the recording wanted, for Playback). */
  uri?: string;
  /** Download speed from a=downloadspeed. */
  downloadSpeed?: number;
}

export class SdpError extends Error {}

export function parseOffer(text: string): GbOffer {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const get = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(2);
  const session = get('s');
  if (!session) throw new SdpError('no s= line');
  const c = /^IN IP[46] (\S+)/.exec(get('c') ?? '');
  if (!c) throw new SdpError('no c= connection address');
  const m = /^video (\d+) (RTP\/AVP|TCP\/RTP\/AVP|RTP\/AVP\/TCP) ([\d ]+)$/.exec(get('m') ?? '');
  if (!m) throw new SdpError(`no usable m=video line (${JSON.stringify(get('m') ?? '')})`);
  const port = Number(m[1]);
  if (!(port > 0 && port < 65536)) throw new SdpError(`bad media port ${m[1]}`);
  const y = get('y');
  if (!y || !/^\d{1,10}$/.test(y)) throw new SdpError(`no y= SSRC (10 digits) (${JSON.stringify(y ?? '')})`);
  if (Number(y) > 0xffffffff) throw new SdpError(`y= SSRC ${y} does not fit 32 bits`);
  const tcp = m[2] !== 'RTP/AVP';
  const setupAttr = lines.find((l) => l.startsWith('a=setup:'))?.slice(8);
  const t = /^(\d+) (\d+)$/.exec(get('t') ?? '');
  const speed = lines.find((l) => l.startsWith('a=downloadspeed:'))?.slice(16);
  return {
    session,
    host: c[1]!,
    port,
    transport: tcp ? 'TCP' : 'UDP',
    setup: tcp ? (setupAttr === 'active' ? 'active' : 'passive') : undefined,
    payloadTypes: m[3]!.trim().split(/\s+/).map(Number),
    ssrc: y,
    startS: t ? Number(t[1]) : undefined,
    stopS: t ? Number(t[2]) : undefined,
    uri: get('u'),
    downloadSpeed: speed ? Number(speed) : undefined,
  };
}

export function answerSdp(o: { deviceId: string; host: string; port: number; offer: GbOffer; extra?: string[] }): string {
  const tcp = o.offer.transport === 'TCP';
  const lines = [
    'v=0',
    `o=${o.deviceId} 0 0 IN IP4 ${o.host}`,
    `s=${o.offer.session}`,
    `c=IN IP4 ${o.host}`,
    `t=${o.offer.startS ?? 0} ${o.offer.stopS ?? 0}`,
    `m=video ${o.port} ${tcp ? 'TCP/RTP/AVP' : 'RTP/AVP'} 96`,
    'a=sendonly',
    'a=rtpmap:96 PS/90000',
  ];
  if (tcp) lines.push(`a=setup:${o.offer.setup === 'passive' ? 'active' : 'passive'}`, 'a=connection:new');
  if (o.extra) lines.push(...o.extra);
  lines.push(`y=${o.offer.ssrc}`, 'f=v/2/////a///');
  return lines.join('\r\n') + '\r\n';
}
