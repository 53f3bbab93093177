import protobuf from 'protobufjs';
import type { Fix } from '../../protocol/fix.js';

/**
 * Sparkplug B DDATA for the size comparison only: the subset of Eclipse
 * Sparkplug's sparkplug_b.proto (Payload, Metric; field numbers and types as
 * published) that a location report needs. After a DBIRTH that declared each
 * metric with its name and alias, DDATA carries metrics by alias, without
 * names or per-metric timestamps (the payload's timestamp applies), which is
 * the most compact form the specification allows. Topic:
 * `spBv1.0/{group}/DDATA/{edge node}/{device}`.
 */
const PROTO = `
syntax = "proto2";
package org.eclipse.tahu.protobuf;
message Payload {
  message Metric {
    optional string name = 1;
    optional uint64 alias = 2;
    optional uint64 timestamp = 3;
    optional uint32 datatype = 4;
    oneof value {
      uint32 int_value = 10;
      uint64 long_value = 11;
      float float_value = 12;
      double double_value = 13;
      bool boolean_value = 14;
      string string_value = 15;
    }
  }
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
}`;

/** Sparkplug B data types used here (DataType enum of the specification). */
const UINT8 = 5;
const FLOAT = 9;
const DOUBLE = 10;

const Payload = protobuf.parse(PROTO).root.lookupType('org.eclipse.tahu.protobuf.Payload');

/** One DDATA payload for one fix: lat and lon as Double (as the specification's examples), the rest Float / UInt8. */
export function encodeDdata(fix: Fix, seq: number): Uint8Array {
  const metrics: Record<string, unknown>[] = [
    { alias: 1, datatype: DOUBLE, doubleValue: fix.lat },
    { alias: 2, datatype: DOUBLE, doubleValue: fix.lon },
    { alias: 3, datatype: UINT8, intValue: fix.mode },
  ];
  if (fix.alt !== undefined) metrics.push({ alias: 4, datatype: FLOAT, floatValue: fix.alt });
  if (fix.speed !== undefined) metrics.push({ alias: 5, datatype: FLOAT, floatValue: fix.speed });
  if (fix.course !== undefined) metrics.push({ alias: 6, datatype: FLOAT, floatValue: fix.course });
  if (fix.hdop !== undefined) metrics.push({ alias: 7, datatype: FLOAT, floatValue: fix.hdop });
  if (fix.sats !== undefined) metrics.push({ alias: 8, datatype: UINT8, intValue: fix.sats });
  return Payload.encode(Payload.fromObject({ timestamp: fix.timeMs, metrics, seq: seq % 256 })).finish();
}

export function decodeDdata(bytes: Uint8Array): Record<string, unknown> {
  return Payload.toObject(Payload.decode(bytes), { longs: Number }) as Record<string, unknown>;
}
