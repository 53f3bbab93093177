import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import { AGENT_VERSION } from '../../common/version.js';
import { channelName, type GbChannel } from './channel-source.js';
import { gbTime, type XmlElement, type XmlValue } from './manscdp-xml.js';

/**
 * Bodies of the answers to the platform's queries (GB/T 28181-2016 A.2.6):
 * Catalog, DeviceInfo, DeviceStatus, RecordInfo. Each returns the children
 * of a <Response>; list answers come as several documents when long (one
 * datagram each, as platforms expect: SumNum is the total).
 */
export interface DeviceIdentity {
  deviceId: string;
  manufacturer: string;
  civilCode: string;
  /** Shown as the device name on the platform. */
  name: string;
}

type Children = Array<[string, XmlValue]>;

const PER_DOCUMENT = 4;

function chunks<T>(list: T[]): T[][] {
  if (list.length === 0) return [[]];
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += PER_DOCUMENT) out.push(list.slice(i, i + PER_DOCUMENT));
  return out;
}

const deg = (v: number | undefined) => (v === undefined ? undefined : v.toFixed(6));

export function catalogAnswers(dev: DeviceIdentity, sn: string, channels: GbChannel[]): Children[] {
  return chunks(channels).map((part) => [
    ['CmdType', 'Catalog'],
    ['SN', sn],
    ['DeviceID', dev.deviceId],
    ['SumNum', channels.length],
    ['DeviceList', part.map((c): XmlElement => ({
      name: 'Item',
      children: [
        ['DeviceID', c.channelId],
        ['Name', channelName(c)],
        ['Manufacturer', dev.manufacturer],
        ['Model', c.model ?? 'body-worn camera'],
        ['Owner', c.officerNumber ?? 'Owner'],
        ['CivilCode', dev.civilCode],
        ['Address', c.deviceId],
        ['Parental', 0],
        ['ParentID', dev.deviceId],
        ['SafetyWay', 0],
        ['RegisterWay', 1],
        ['Secrecy', 0],
        ['Status', c.online ? 'ON' : 'OFF'],
        ['Longitude', deg(c.fix?.lon)],
        ['Latitude', deg(c.fix?.lat)],
      ],
    }))],
  ]);
}

export function deviceInfoAnswer(dev: DeviceIdentity, sn: string, channelCount: number): Children {
  return [
    ['CmdType', 'DeviceInfo'],
    ['SN', sn],
    ['DeviceID', dev.deviceId],
    ['DeviceName', dev.name],
    ['Result', 'OK'],
    ['Manufacturer', dev.manufacturer],
    ['Model', 'bwc-agent gateway'],
    ['Firmware', AGENT_VERSION],
    ['Channel', channelCount],
  ];
}

/** For the device itself (always online) or one of its channels. */
export function deviceStatusAnswer(id: string, sn: string, ch: GbChannel | undefined, nowMs: number): Children {
  const online = ch ? ch.online : true;
  return [
    ['CmdType', 'DeviceStatus'],
    ['SN', sn],
    ['DeviceID', id],
    ['Result', 'OK'],
    ['Online', online ? 'ONLINE' : 'OFFLINE'],
    ['Status', online ? 'OK' : 'ERROR'],
    ['Encode', online ? 'ON' : 'OFF'],
    ['Record', ch?.recording ? 'ON' : 'OFF'],
    ['DeviceTime', gbTime(nowMs)],
    ['Alarmstatus', [] as XmlElement[]],
  ];
}

export function recordInfoAnswers(channelId: string, sn: string, name: string, recs: RecordingInfo[]): Children[] {
  return chunks(recs).map((part) => [
    ['CmdType', 'RecordInfo'],
    ['SN', sn],
    ['DeviceID', channelId],
    ['Name', name],
    ['SumNum', recs.length],
    ['RecordList', part.map((r): XmlElement => ({
      name: 'Item',
      children: [
        ['DeviceID', channelId],
        ['Name', name],
        ['FilePath', r.id],
        ['Address', r.id],
        ['StartTime', gbTime(r.startMs)],
        ['EndTime', gbTime(r.endMs)],
        ['Secrecy', 0],
        ['Type', r.trigger === 'sos' ? 'alarm' : r.trigger === 'manual' ? 'manual' : 'time'],
        ['FileSize', r.size],
      ],
    }))],
  ]);
}
