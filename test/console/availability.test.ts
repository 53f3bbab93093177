import t from 'tap';
import { FleetAvailability } from '../../console/fleet/availability.js';
import { statusCounters } from '../../agent/device-messages.js';

t.test('availability: a device is available only while its status and its agent (same session) say so', async (t) => {
  const a = new FleetAvailability();
  t.match(a.get('CAM-1'), { available: false, reason: 'no status' });
  a.status('CAM-1', { online: true, agentId: 'GW-1', session: 4, seq: 10 });
  t.match(a.get('CAM-1'), { available: false, reason: 'agent unknown' }, 'no agent state seen yet');
  a.agent('GW-1', { online: true, session: 4 });
  t.match(a.get('CAM-1'), { available: true, agent: 'GW-1' });
  // The agent's will: every device of it goes, though their statuses still say online.
  a.status('CAM-2', { online: true, agentId: 'GW-1', session: 4, seq: 3 });
  a.agent('GW-1', { online: false, session: 4 });
  t.match(a.get('CAM-1'), { available: false, reason: 'agent offline' });
  t.match(a.get('CAM-2'), { available: false, reason: 'agent offline' });
  t.same(a.devicesOf('GW-1'), ['CAM-1', 'CAM-2']);
  // The agent is back in session 5: the devices wait for their status of session 5.
  a.agent('GW-1', { online: true, session: 5 });
  t.match(a.get('CAM-1'), { available: false, reason: 'agent session changed' });
  a.status('CAM-1', { online: true, agentId: 'GW-1', session: 5, seq: 11 });
  t.match(a.get('CAM-1'), { available: true });
  // A stale will (older session) changes nothing; an older status does not replace a newer one.
  a.agent('GW-1', { online: false, session: 4 });
  t.match(a.get('CAM-1'), { available: true }, 'the will of session 4 is stale');
  a.status('CAM-1', { online: false, agentId: 'GW-1', session: 5, seq: 9 });
  t.match(a.get('CAM-1'), { available: true }, 'an older status does not replace the newer one');
  // A camera that moved to another gateway follows that gateway.
  a.agent('GW-2', { online: true, session: 1 });
  a.status('CAM-2', { online: true, agentId: 'GW-2', session: 1, seq: 1 });
  t.match(a.get('CAM-2'), { available: true, agent: 'GW-2' });
  a.status('CAM-3', { online: false, agentId: 'GW-2', session: 1, seq: 1 });
  t.match(a.get('CAM-3'), { available: false, reason: 'device offline' });
});

t.test('Status counters add up only what their names say', async (t) => {
  const c = statusCounters(
    {
      nmea_decoded: 500, nmea_epochs: 100, nmea_fixes: 98, nmea_ignored: 7, nmea_garbage: 40,
      nmea_bad_checksum: 2, nmea_truncated: 1, nmea_too_long: 1, nmea_no_checksum: 1, nmea_bad_char: 1, nmea_rejected_fix: 3,
      filter_mode: 4, filter_time: 1, filter_invalid: 2, filter_hdop: 5, filter_jump: 6,
      'camera_rejected.crc': 2, 'camera_rejected.length': 1, camera_framesIn: 900, camera_discardedBytes: 77,
      fixes_implausible_fields: 4,
    },
    98,
    12,
    3,
  );
  t.same(c, { fixesIn: 98, fixesDroppedInvalid: 7, fixesDroppedHdop: 5, fixesDroppedJump: 6, nmeaRejected: 9, cameraFramesRejected: 3, bufferDropped: 12, fixesImplausibleFields: 4, fixesLostMemoryRing: 3 });
});
