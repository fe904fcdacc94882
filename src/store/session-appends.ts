import type BetterSqlite3 from 'better-sqlite3';
import type { JsonObject } from '../domain/json.js';
import { sqliteValue } from './bulk-insert.js';
import type { Db } from './database.js';
import type { GroupCommit } from './group-commit.js';
import { findIdempotentResponse, recordIdempotentResponse, type IdempotencyScope } from './idempotency.js';
import { createSession, lockSession, updateSession, type SessionKey, type SessionRow } from './sessions.js';
import { insertTrace, type TraceRow } from './traces.js';
import { retryOnUniqueViolation } from './unique-violations.js';

/** One trace appended to its session's history, and the session's context after it. */
export interface SessionAppend {
  trace: TraceRow;
  /** Also the trace's `contextAfter`: both columns are written from this value. */
  context: JsonObject;
}

/** With an idempotency key: what to keep of the first result, returned instead of writing on a retry. */
export interface AppendOnce<S> {
  scope: IdempotencyScope;
  keep: (append: SessionAppend) => S;
}

export type AppendOutcome<S> = { appended: SessionAppend } | { stored: S };

/**
 * The hot write of a context update: in one transaction, serialised with every other write to the session, read
 * the session, append the trace `next` returns for it (it may throw instead: nothing is written), and move the
 * session's head (count, last seq and time, context) to that trace.
 */
export interface SessionAppender {
  append<S>(key: SessionKey, once: AppendOnce<S> | null, next: (session: SessionRow | null) => SessionAppend): Promise<AppendOutcome<S>>;
}

const TRACE_COLUMNS = ['id', 'person_id', 'session_id', 'seq', 'event_type', 'timestamp', 'received_at', 'event_data', 'context_after', 'snapshot_stored'];

interface StoredSession {
  traceCount: number;
  lastSeq: number;
  firstAt: string;
  lastAt: string;
  context: string;
}

/**
 * SQLite: prepared statements on the store's connection, committed in groups (see GroupCommit); values are bound
 * as Prisma's adapter binds them, so the rows read back through Prisma as if it had written them.
 */
export function sqliteSessionAppender(connection: BetterSqlite3.Database, commits: GroupCommit): SessionAppender {
  // The adapter reads integers as BigInt on this connection; these statements read plain numbers.
  const readKey = connection
    .prepare<[string, string, string], string>('SELECT response FROM idempotency_keys WHERE scope = ? AND operation = ? AND key = ?')
    .pluck()
    .safeIntegers(false);
  const readSession = connection
    .prepare<[string, string], StoredSession>(
      `SELECT trace_count AS traceCount, last_seq AS lastSeq, first_at AS firstAt, last_at AS lastAt, context
       FROM sessions WHERE person_id = ? AND session_id = ?`,
    )
    .safeIntegers(false);
  const insertTraceRow = connection.prepare(`INSERT INTO traces (${TRACE_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${TRACE_COLUMNS.map(() => '?').join(', ')})`);
  const upsertSession = connection.prepare(
    `INSERT INTO sessions (person_id, session_id, trace_count, last_seq, first_at, last_at, context) VALUES (?, ?, 1, ?, ?, ?, ?)
     ON CONFLICT (person_id, session_id) DO UPDATE SET trace_count = trace_count + 1, last_seq = excluded.last_seq,
       last_at = excluded.last_at, context = excluded.context`,
  );
  const insertKey = connection.prepare('INSERT INTO idempotency_keys (scope, operation, key, response, created_at) VALUES (?, ?, ?, ?, ?)');
  const date = (value: Date) => sqliteValue(value, false);

  return {
    append: (key, once, next) =>
      commits.run(() => {
        const stored = once ? readKey.get(once.scope.scope, once.scope.operation, once.scope.key) : undefined;
        if (stored !== undefined) return { stored: JSON.parse(stored) };
        const row = readSession.get(key.personId, key.sessionId);
        const session: SessionRow | null = row
          ? { ...key, ...row, firstAt: new Date(row.firstAt), lastAt: new Date(row.lastAt), context: JSON.parse(row.context) }
          : null;
        const appended = next(session);
        const { trace, context } = appended;
        const contextText = JSON.stringify(context);
        insertTraceRow.run(
          trace.id, trace.personId, trace.sessionId, trace.seq, trace.eventType, date(trace.timestamp), date(trace.receivedAt),
          JSON.stringify(trace.eventData), contextText, Number(trace.snapshotStored),
        );
        upsertSession.run(key.personId, key.sessionId, trace.seq, date(trace.timestamp), date(trace.timestamp), contextText);
        if (once) {
          const { scope, operation, key: name } = once.scope;
          insertKey.run(scope, operation, name, JSON.stringify(once.keep(appended)), date(trace.receivedAt));
        }
        return { appended };
      }),
  };
}

/** PostgreSQL: Prisma in an interactive transaction, the session row locked; a lost race on a key is retried. */
export const postgresSessionAppender = (db: Db): SessionAppender => ({
  append: <S>(key: SessionKey, once: AppendOnce<S> | null, next: (session: SessionRow | null) => SessionAppend) =>
    retryOnUniqueViolation(() =>
      db.$transaction(async (tx): Promise<AppendOutcome<S>> => {
        const stored = once ? await findIdempotentResponse<S>(tx, once.scope) : null;
        if (stored) return { stored };
        const session = await lockSession(tx, 'postgresql', key);
        const appended = next(session);
        const { trace, context } = appended;
        await insertTrace(tx, { ...trace, eventData: trace.eventData!, contextAfter: context });
        const head = { lastSeq: trace.seq!, lastAt: trace.timestamp, context };
        if (session) await updateSession(tx, key, { ...head, traceCount: { increment: 1 } });
        else await createSession(tx, { ...key, ...head, traceCount: 1, firstAt: trace.timestamp });
        if (once) await recordIdempotentResponse(tx, once.scope, once.keep(appended) as object, trace.receivedAt);
        return { appended };
      }),
    ),
});
