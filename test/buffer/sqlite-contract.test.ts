import { join } from 'node:path';
import { SqliteMessageBuffer } from '../../agent/buffer/sqlite-message-buffer.js';
import { messageBufferContract } from './message-buffer.contract.js';
import { tempDir } from './temp-buffer.js';

messageBufferContract('SqliteMessageBuffer', (opts, t) => {
  const b = SqliteMessageBuffer.open({ path: join(tempDir(t), 'buffer.db'), syncIntervalMs: 0, ...('seqFloor' in opts ? {} : { seqFloor: () => 0 }), ...opts });
  t.teardown(() => b.close());
  return b;
});
