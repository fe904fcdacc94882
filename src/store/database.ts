import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as SqliteClient } from '../generated/prisma/sqlite/client.js';
import { PrismaClient as PostgresClient } from '../generated/prisma/postgresql/client.js';
import type { StoreConfig } from '../config.js';
import { postgresBulkWriter, sqliteBulkWriter, type BulkWriter } from './bulk-insert.js';
import { GroupCommit, type SqliteAdapter } from './group-commit.js';
import { migratePostgres, migrateSqlite } from './migrations.js';
import { postgresSessionAppender, sqliteSessionAppender, type SessionAppender } from './session-appends.js';
import { postgresTracePages, sqliteTracePages, type TracePages } from './trace-pages.js';
import { TransactionConnections } from './transaction-connections.js';

/** Both generated clients expose the same model API; the SQLite one's types stand for both. */
export type Db = SqliteClient;
export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export interface Database {
  /** For transactions and writes. */
  db: Db;
  /**
   * For reads outside a transaction. On SQLite a second, read-only connection: the adapter runs every query on
   * one connection, so a read made there while another request's transaction is open would see its uncommitted
   * rows. In WAL mode this one reads the last committed state. On PostgreSQL it is the same pool as `db`.
   */
  read: Db;
  provider: StoreConfig['provider'];
  /** Bulk inserts inside a `db` transaction, past the ORM (the hot write paths). */
  bulk: BulkWriter;
  /** A context update's trace and session write (the hot single-row path). */
  sessions: SessionAppender;
  /** Pages of traces, newest first (the hot read path), on the read connection. */
  tracePages: TracePages;
  close(): Promise<void>;
}

/** Room for a writer to queue behind others (SQLite has one writer at a time) and for bulk writes to finish. */
const TRANSACTIONS = { maxWait: 10_000, timeout: 30_000 };

const SQLITE_PRAGMAS = [
  // First, so the others (journal_mode needs a lock) wait for another process instead of failing at once.
  'PRAGMA busy_timeout = 5000',
  'PRAGMA journal_mode = WAL',
  // better-sqlite3 leaves WAL at NORMAL, which can lose the last commits on power loss: acknowledged means on disk.
  'PRAGMA synchronous = FULL',
  'PRAGMA foreign_keys = ON',
];

/**
 * Wraps the adapter's connect to keep the better-sqlite3 connection it opens (and tell `onConnect`);
 * `connection()` fails loudly if the adapter has not connected or no longer exposes it.
 */
function keepConnection(adapter: PrismaBetterSqlite3, onConnect?: (opened: SqliteAdapter, connection: BetterSqlite3.Database) => void) {
  let connection: BetterSqlite3.Database | undefined;
  const connect = adapter.connect.bind(adapter);
  adapter.connect = async () => {
    const opened = await connect();
    const client = (opened as unknown as { client: unknown }).client;
    if (!(client instanceof BetterSqlite3)) throw new Error('The SQLite adapter no longer exposes its connection: the hot paths need it');
    connection = client;
    onConnect?.(opened, client);
    return opened;
  };
  return {
    adapter,
    connection: () => {
      if (!connection) throw new Error('The SQLite adapter has not connected');
      return connection;
    },
  };
}

async function openSqlite(config: Extract<StoreConfig, { provider: 'sqlite' }>): Promise<Database> {
  if (config.filename !== ':memory:') mkdirSync(dirname(config.filename), { recursive: true });
  const migrator = new BetterSqlite3(config.filename);
  try {
    for (const pragma of SQLITE_PRAGMAS) migrator.pragma(pragma.slice('PRAGMA '.length));
    await migrateSqlite(migrator);
  } finally {
    migrator.close();
  }
  // Each adapter opens its connection when its client first queries. Both are kept, so the hot paths can run
  // prepared statements on them, and the writing one's transactions take the group commit's lock.
  let commits: GroupCommit | undefined;
  const writer = keepConnection(new PrismaBetterSqlite3({ url: config.filename }), (opened, connection) => {
    commits = new GroupCommit(connection);
    commits.shareLockWith(opened);
  });
  const db = new SqliteClient({ adapter: writer.adapter, transactionOptions: TRANSACTIONS });
  for (const pragma of SQLITE_PRAGMAS) await db.$queryRawUnsafe(pragma);
  const reader = keepConnection(new PrismaBetterSqlite3({ url: config.filename, readonly: true }));
  const read = new SqliteClient({ adapter: reader.adapter });
  await read.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
  const connection = writer.connection();
  return {
    db,
    read,
    provider: 'sqlite',
    bulk: sqliteBulkWriter(connection),
    sessions: sqliteSessionAppender(connection, commits!),
    tracePages: sqliteTracePages(reader.connection()),
    close: async () => {
      await read.$disconnect();
      await db.$disconnect();
    },
  };
}

async function openPostgres(config: Extract<StoreConfig, { provider: 'postgresql' }>): Promise<Database> {
  const pool = new pg.Pool({ connectionString: config.url, max: 10, options: '-c synchronous_commit=on' });
  // An idle connection the server drops (restart, failover, admin) must not crash the process: the pool replaces it.
  pool.on('error', () => undefined);
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  // Each transaction's connection is kept while it is open, so the hot paths can write on it past the ORM.
  const connections = new TransactionConnections();
  const db = connections.slotEach(new PostgresClient({ adapter: connections.track(new PrismaPg(pool)), transactionOptions: TRANSACTIONS }) as unknown as Db);
  return {
    db,
    read: db,
    provider: 'postgresql',
    bulk: postgresBulkWriter(() => connections.current()),
    sessions: postgresSessionAppender(db),
    tracePages: postgresTracePages(pool),
    close: async () => {
      await db.$disconnect();
      await pool.end();
    },
  };
}

/** Opens the configured store and brings its schema up to date before anything reads it. */
export function openDatabase(config: StoreConfig): Promise<Database> {
  return config.provider === 'sqlite' ? openSqlite(config) : openPostgres(config);
}
