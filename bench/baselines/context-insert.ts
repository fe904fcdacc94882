// `ingest-single`'s baseline server: takes the very `updateContext` request body the gateway gets and stores it
// as one row of the same `traces` table (created by the product's own migrations, so the same columns and
// indexes) with one prepared INSERT in WAL mode with synchronous=FULL, as the gateway's store commits.
// No GraphQL, no session row, no fusion: the physical floor of "one acknowledged row per request".
// Started by `spawnScript` with BASELINE_DATABASE (a file path); prints `context-insert ready at <url>`.
import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { migrateSqlite } from '../../src/store/migrations.js';
import { serveJson } from './json-server.js';

interface UpdateContextBody {
  variables: { input: { personId: string; sessionId: string; eventType?: string; sources: { data: object }[] } };
}

const db = new BetterSqlite3(process.env.BASELINE_DATABASE!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
await migrateSqlite(db);
const insert = db.prepare(`INSERT INTO traces (id, person_id, session_id, seq, event_type, "timestamp", received_at, event_data, context_after, snapshot_stored)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`);
// The session's position, kept in memory: a bare server would not re-read what it alone writes.
const lastSeq = new Map<string, number>();

serveJson('context-insert', (body) => {
  const { personId, sessionId, eventType, sources } = (body as UpdateContextBody).variables.input;
  const session = `${personId}\u0000${sessionId}`;
  const seq = (lastSeq.get(session) ?? 0) + 1;
  lastSeq.set(session, seq);
  const id = randomUUID();
  const now = new Date().toISOString();
  // The row carries what the gateway's does (the sources and a context), without the fusion that derives them.
  const context = Object.assign({}, ...sources.map((source) => source.data)) as object;
  insert.run(id, personId, sessionId, seq, eventType ?? 'context_update', now, now, JSON.stringify({ sources }), JSON.stringify(context));
  return { data: { updateContext: { trace: { id }, duplicate: false } } };
});
