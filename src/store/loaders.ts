import DataLoader from 'dataloader';
import type { Db } from './database.js';
import { findSessions, type SessionKey, type SessionRow } from './sessions.js';
import { findReplaysOf, findTracesByIds, type TraceRow } from './traces.js';

/** Batches the lookups nested fields make (one query per field per request, not per parent). Per request only. */
export function createLoaders(db: Db) {
  return {
    traceById: new DataLoader<string, TraceRow | null>(async (ids) => {
      const rows = new Map((await findTracesByIds(db, ids)).map((row) => [row.id, row]));
      return ids.map((id) => rows.get(id) ?? null);
    }),
    replaysOf: new DataLoader<string, TraceRow[]>(async (ids) => {
      const byOriginal = new Map<string, TraceRow[]>(ids.map((id) => [id, []]));
      for (const row of await findReplaysOf(db, ids)) byOriginal.get(row.replayOfId!)?.push(row);
      return ids.map((id) => byOriginal.get(id)!);
    }),
    session: new DataLoader<SessionKey, SessionRow | null, string>(
      async (keys) => {
        const rows = await findSessions(db, keys);
        return keys.map((k) => rows.find((row) => row.personId === k.personId && row.sessionId === k.sessionId) ?? null);
      },
      { cacheKeyFn: (k) => JSON.stringify([k.personId, k.sessionId]) },
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
