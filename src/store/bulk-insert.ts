import { Prisma } from '../generated/prisma/sqlite/client.js';
import type { Database, Tx } from './database.js';

/** A JSON value as a bound parameter: text on SQLite, cast to JSONB on PostgreSQL. */
export const jsonParam = (provider: Database['provider'], value: unknown) =>
  provider === 'postgresql' ? Prisma.sql`${JSON.stringify(value)}::jsonb` : Prisma.sql`${JSON.stringify(value)}`;

/**
 * Multi-row INSERTs of `rows`, `chunk` rows per statement: the hot write paths skip the ORM's per-row query
 * compilation and JSON handling, and stay under both stores' bound-parameter limits.
 */
export async function insertRows<T>(tx: Tx, into: Prisma.Sql, rows: readonly T[], chunk: number, values: (row: T) => Prisma.Sql) {
  for (let i = 0; i < rows.length; i += chunk) {
    await tx.$executeRaw`INSERT INTO ${into} VALUES ${Prisma.join(rows.slice(i, i + chunk).map(values))}`;
  }
}
