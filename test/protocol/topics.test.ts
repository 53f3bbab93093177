import t from 'tap';
import { Topics } from '../../protocol/topics.js';

t.test('every topic string comes from one builder and parses back', async (t) => {
  const topics = new Topics('bwc/v1');
  t.equal(topics.device('BWC-0001', 'track'), 'bwc/v1/dev/BWC-0001/track');
  t.equal(topics.device('BWC-0001', 'track/hist'), 'bwc/v1/dev/BWC-0001/track/hist');
  t.equal(topics.media('BWC-0001', 'c-1'), 'bwc/v1/dev/BWC-0001/media/c-1');
  t.equal(topics.agent('gw-1', 'state'), 'bwc/v1/agent/gw-1/state');
  t.same(topics.parse('bwc/v1/dev/BWC-0001/track/hist'), { kind: 'device', deviceId: 'BWC-0001', channel: 'track/hist' });
  t.same(topics.parse('bwc/v1/dev/BWC-0001/media/c-1'), { kind: 'device', deviceId: 'BWC-0001', channel: 'media', requestId: 'c-1' });
  t.same(topics.parse('bwc/v1/agent/gw-1/state'), { kind: 'agent', agentId: 'gw-1', channel: 'state' });
  t.equal(topics.parse('other/dev/x/track'), null);
  t.equal(topics.parse('bwc/v1/dev/x/unknown'), null);
  t.equal(topics.shared('console', topics.allDevices('track')), '$share/console/bwc/v1/dev/+/track');
  t.same(topics.registration('gw-1'), { request: 'bwc/v1/register/gw-1/request', reply: 'bwc/v1/register/gw-1/reply' });
});

t.test('ids that would break the topic tree are refused', async (t) => {
  const topics = new Topics();
  t.throws(() => topics.device('a/b', 'track'), /cannot be a topic level/);
  t.throws(() => topics.device('+', 'track'), /cannot be a topic level/);
  t.throws(() => topics.device('', 'track'), /cannot be a topic level/);
  t.throws(() => new Topics('bwc/#'), /without wildcards/);
});
