import { join } from 'node:path';
import { UsageError } from '../../common/cli-kit.js';
import { PostgresTrackStore } from './postgres-track-store.js';
import { SqliteTrackStore } from './sqlite-track-store.js';
import type { TrackStore } from './track-store.js';

/** `--store sqlite` (a file in the data folder) or `--store postgres://…`. */
export async function openTrackStore(spec: string, dataDir: string): Promise<TrackStore> {
  if (spec === 'sqlite') return new SqliteTrackStore(join(dataDir, 'tracks.sqlite'));
  if (/^postgres(ql)?:\/\//.test(spec)) return PostgresTrackStore.open(spec);
  throw new UsageError(`--store must be sqlite or a postgres://USER@HOST:PORT/DATABASE URL, got ${JSON.stringify(spec)}`);
}
