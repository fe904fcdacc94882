import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import { JsonText } from '../domain/json-text.js';

const jsonText = (value: unknown) => (value instanceof JsonText ? value.text : JSON.stringify(value));

/** A table's columns as the hot write paths fill them; `json` columns take JS values, `upsertOn` makes it an upsert. */
export interface RowShape {
  table: string;
  columns: readonly string[];
  json?: readonly string[];
  /** The unique key to upsert on: the other columns are overwritten with the new row's values. */
  upsertOn?: readonly string[];
}

/**
 * The hot write paths (recording ticks, appending stream events) skip the ORM: its per-query compilation and
 * argument handling cost more than the database's own work on large batches (see the ingest-bulk benchmark).
 * Rows are written inside the transaction the caller runs in, on its connection; outside one, the write throws.
 */
export interface BulkWriter {
  insert<T>(shape: RowShape, rows: readonly T[], values: (row: T) => readonly unknown[]): Promise<void>;
}

const quoted = (column: string) => `"${column}"`;
const columnList = (shape: RowShape) => shape.columns.map(quoted).join(', ');
const conflictClause = (shape: RowShape) =>
  shape.upsertOn
    ? ` ON CONFLICT (${shape.upsertOn.map(quoted).join(', ')}) DO UPDATE SET ${shape.columns
        .filter((column) => !shape.upsertOn!.includes(column))
        .map((column) => `${quoted(column)} = excluded.${quoted(column)}`)
        .join(', ')}`
    : '';
const isJson = (shape: RowShape) => shape.columns.map((column) => shape.json?.includes(column) ?? false);

/** A value as Prisma's SQLite adapter binds it, so rows read back through Prisma exactly as if it had written them. */
export const sqliteValue = (value: unknown, json: boolean) =>
  json ? jsonText(value) : value instanceof Date ? value.toISOString().replace('Z', '+00:00') : typeof value === 'boolean' ? Number(value) : value;

/**
 * A value as Prisma binds it on PostgreSQL. Its TIMESTAMP(3) columns hold UTC without a zone: node-pg would bind a
 * Date in the process's local time zone, so times go as UTC text.
 */
export const postgresValue = (value: unknown, json = false) => (json ? jsonText(value) : value instanceof Date ? value.toISOString() : value);

/**
 * SQLite: one prepared statement per shape, run row by row on the connection Prisma's adapter holds, which is
 * inside the caller's transaction (the adapter runs every transaction on that one connection, one at a time).
 * Row-by-row prepared inserts in one transaction are SQLite's fastest straightforward bulk write.
 */
export function sqliteBulkWriter(connection: BetterSqlite3.Database): BulkWriter {
  const statements = new Map<RowShape, BetterSqlite3.Statement>();
  return {
    async insert(shape, rows, values) {
      if (!connection.inTransaction) throw new Error(`Bulk insert into ${shape.table} outside a transaction`);
      let statement = statements.get(shape);
      if (!statement) {
        const placeholders = shape.columns.map(() => '?').join(', ');
        statement = connection.prepare(`INSERT INTO ${shape.table} (${columnList(shape)}) VALUES (${placeholders})${conflictClause(shape)}`);
        statements.set(shape, statement);
      }
      const json = isJson(shape);
      for (const row of rows) statement.run(values(row).map((value, i) => sqliteValue(value, json[i]!)));
    },
  };
}

/** PostgreSQL's limit is 65,535 bound parameters per statement. */
const MAX_PARAMETERS = 60_000;

/**
 * PostgreSQL: multi-row INSERTs, as many rows per statement as fit, sent by node-pg on the connection of the
 * caller's transaction (`connection()`, which throws once that transaction is ending).
 */
export const postgresBulkWriter = (connection: () => pg.PoolClient): BulkWriter => ({
  async insert(shape, rows, values) {
    const json = isJson(shape);
    const perStatement = Math.min(1000, Math.floor(MAX_PARAMETERS / shape.columns.length));
    for (let i = 0; i < rows.length; i += perStatement) {
      const parameters: unknown[] = [];
      const tuples = rows.slice(i, i + perStatement).map((row) => {
        const placeholders = values(row).map((value, c) => {
          parameters.push(postgresValue(value, json[c]));
          return `$${parameters.length}${json[c] ? '::jsonb' : ''}`;
        });
        return `(${placeholders.join(', ')})`;
      });
      await connection().query(`INSERT INTO ${shape.table} (${columnList(shape)}) VALUES ${tuples.join(', ')}${conflictClause(shape)}`, parameters);
    }
  },
});
