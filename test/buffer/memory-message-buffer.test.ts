import { MemoryMessageBuffer } from '../../agent/buffer/memory-message-buffer.js';
import { messageBufferContract } from './message-buffer.contract.js';

messageBufferContract('MemoryMessageBuffer', (opts) => new MemoryMessageBuffer({ ...('seqFloor' in opts ? {} : { seqFloor: () => 0 }), ...opts }));
