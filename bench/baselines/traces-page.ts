// `query-traces`' baseline server: takes the very `traces(filter: { personId }, first: 50)` request body the gateway
// gets, runs the keyset query the gateway's store runs for a first page (same columns, same WHERE / ORDER BY /
// LIMIT, so the same index and plan) as a prepared statement on the same database, and answers the same JSON
// shape with JSON.stringify. No GraphQL, no ORM.
// Started by `spawnScript` with DATABASE_URL (file: or postgres://); prints `traces-page ready at <url>`.
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { encodeCursor } from '../../src/domain/cursors.js';
import { serveJson } from './json-server.js';

const PAGE = 50;
const COLUMNS = `id, person_id, session_id, seq, event_type, "timestamp", received_at, event_data, context_after, snapshot_stored, replay_of_id, replay_source, replayed_by`;
const pageSql = (person: string, limit: string) =>
  `SELECT ${COLUMNS} FROM traces WHERE person_id = ${person} ORDER BY "timestamp" DESC, id DESC LIMIT ${limit}`;

interface TraceRow {
  id: string;
  person_id: string;
  session_id: string;
  event_type: string;
  timestamp: string | Date;
  received_at: string | Date;
  event_data: unknown;
  context_after: unknown;
  snapshot_stored: number | boolean;
}

/** One page plus one row (the extra row only says there is more), newest first, as each store's driver returns it. */
type ReadPage = (personId: string) => TraceRow[] | Promise<TraceRow[]>;

function openStore(url: string): { readPage: ReadPage; jsonIsText: boolean } {
  if (url.startsWith('file:')) {
    // Read-only, like the gateway's read connection.
    const statement = new BetterSqlite3(url.slice('file:'.length), { readonly: true }).prepare<[string, number], TraceRow>(pageSql('?', '?'));
    return { readPage: (personId) => statement.all(personId, PAGE + 1), jsonIsText: true };
  }
  // As many connections as the gateway's pool; a named statement is parsed and planned once per connection.
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const text = pageSql('$1', '$2');
  return {
    readPage: async (personId) => (await pool.query<TraceRow>({ name: 'traces-page', text, values: [personId, PAGE + 1] })).rows,
    jsonIsText: false,
  };
}

const { readPage, jsonIsText } = openStore(process.env.DATABASE_URL!);
const json = (value: unknown) => (jsonIsText ? JSON.parse(value as string) : value);

serveJson('traces-page', async (body) => {
  const { personId } = (body as { variables: { personId: string } }).variables;
  const rows = await readPage(personId);
  const nodes = rows.slice(0, PAGE).map((row) => ({
    id: row.id,
    personId: row.person_id,
    sessionId: row.session_id,
    eventType: row.event_type,
    timestamp: new Date(row.timestamp),
    receivedAt: new Date(row.received_at),
    eventData: json(row.event_data),
    contextSnapshot: row.snapshot_stored ? json(row.context_after) : null,
  }));
  const last = nodes.at(-1);
  const endCursor = last ? encodeCursor('traces', [last.timestamp.getTime(), last.id]) : null;
  return { data: { traces: { nodes, pageInfo: { hasNextPage: rows.length > PAGE, endCursor } } } };
});
