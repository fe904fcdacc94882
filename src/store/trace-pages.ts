import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { JsonText } from '../domain/json-text.js';
import { postgresValue, sqliteValue } from './bulk-insert.js';
import type { TraceFilter, TraceKey, TraceView } from './traces.js';

/**
 * A page of traces, newest first: `limit` rows strictly after `after`. The most requested read (dashboards page
 * through a person's history), so it runs as a prepared statement on the read connection rather than through the
 * ORM, whose query compilation and row mapping cost more than the database's own work (see the query-traces
 * benchmark). Each filter's shape is one statement, prepared once. The JSON columns stay text (JsonText) on their
 * way to the response: parsing them only to serialise them again was a third of the work.
 */
export interface TracePages {
  list(filter: TraceFilter, limit: number, after: TraceKey | null): Promise<TraceView[]>;
}

const COLUMNS = `id, person_id, session_id, seq, event_type, "timestamp", received_at, event_data, context_after, snapshot_stored, replay_of_id, replay_source, replayed_by`;

interface StoredTrace {
  id: string;
  person_id: string;
  session_id: string;
  seq: number | null;
  event_type: string;
  timestamp: string | Date;
  received_at: string | Date;
  event_data: string | JsonText;
  context_after: string | JsonText | null;
  snapshot_stored: number | boolean;
  replay_of_id: string | null;
  replay_source: string | null;
  replayed_by: string | null;
}

/** The statement for a filter's shape, and its parameters in order; `placeholder(n)` names the n-th (1-based). */
function pageQuery(filter: TraceFilter, limit: number, after: TraceKey | null, placeholder: (n: number) => string) {
  const parameters: unknown[] = [];
  const bind = (value: unknown) => {
    parameters.push(value);
    return placeholder(parameters.length);
  };
  const where: string[] = [];
  if (filter.personId) where.push(`person_id = ${bind(filter.personId)}`);
  if (filter.sessionId) where.push(`session_id = ${bind(filter.sessionId)}`);
  if (filter.eventTypes) where.push(filter.eventTypes.length ? `event_type IN (${filter.eventTypes.map(bind).join(', ')})` : 'FALSE');
  if (filter.from) where.push(`"timestamp" >= ${bind(filter.from)}`);
  if (filter.to) where.push(`"timestamp" <= ${bind(filter.to)}`);
  if (filter.replayed === true) where.push('replay_of_id IS NOT NULL');
  if (filter.replayed === false) where.push('replay_of_id IS NULL');
  if (after) where.push(`("timestamp" < ${bind(after.timestamp)} OR ("timestamp" = ${bind(after.timestamp)} AND id < ${bind(after.id)}))`);
  const sql = `SELECT ${COLUMNS} FROM traces${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
    ORDER BY "timestamp" DESC, id DESC LIMIT ${bind(limit)}`;
  return { sql, parameters };
}

/** SQLite returns a JSON column as its text; PostgreSQL's jsonb arrives as JsonText already (see `types`). */
const jsonText = (value: string | JsonText) => (value instanceof JsonText ? value : new JsonText(value));

/** A stored row as the ORM would return it, but for its JSON columns, which stay text. */
const toTrace = (row: StoredTrace): TraceView => ({
  id: row.id,
  personId: row.person_id,
  sessionId: row.session_id,
  seq: row.seq,
  eventType: row.event_type,
  timestamp: new Date(row.timestamp),
  receivedAt: new Date(row.received_at),
  eventData: jsonText(row.event_data),
  contextAfter: row.context_after === null ? null : jsonText(row.context_after),
  snapshotStored: Boolean(row.snapshot_stored),
  replayOfId: row.replay_of_id,
  replaySource: row.replay_source,
  replayedBy: row.replayed_by,
});

/** SQLite: on the read-only connection; values bound as Prisma's adapter binds them (ISO text times). */
export function sqliteTracePages(connection: BetterSqlite3.Database): TracePages {
  const statements = new Map<string, BetterSqlite3.Statement<unknown[], StoredTrace>>();
  return {
    async list(filter, limit, after) {
      const { sql, parameters } = pageQuery(filter, limit, after, () => '?');
      let statement = statements.get(sql);
      if (!statement) {
        statement = connection.prepare<unknown[], StoredTrace>(sql).safeIntegers(false);
        statements.set(sql, statement);
      }
      return statement.all(...parameters.map((value) => sqliteValue(value, false))).map(toTrace);
    },
  };
}

/**
 * PostgreSQL's TIMESTAMP(3) columns hold UTC without a zone, as Prisma writes them: node-pg would read them, and
 * bind Dates, in the process's local time zone, so times go both ways as UTC text here (bound by postgresValue).
 * jsonb is kept as its text.
 */
const TIMESTAMP_OID = 1114;
const JSONB_OID = 3802;
const parsers: Record<number, (text: string) => unknown> = {
  [TIMESTAMP_OID]: (text) => new Date(`${text.replace(' ', 'T')}Z`),
  [JSONB_OID]: (text) => new JsonText(text),
};
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => parsers[oid] ?? pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** PostgreSQL: a named statement (parsed and planned once per pooled connection). */
export function postgresTracePages(pool: pg.Pool): TracePages {
  const names = new Map<string, string>();
  return {
    async list(filter, limit, after) {
      const { sql, parameters } = pageQuery(filter, limit, after, (n) => `$${n}`);
      let name = names.get(sql);
      if (!name) {
        name = `trace-page-${names.size + 1}`;
        names.set(sql, name);
      }
      const { rows } = await pool.query<StoredTrace>({ name, text: sql, values: parameters.map((value) => postgresValue(value)), types });
      return rows.map(toTrace);
    },
  };
}
