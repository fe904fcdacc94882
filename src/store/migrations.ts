// Applies the committed SQL under migrations/<provider>/ at start-up, since Prisma's schema engine (and so
// `prisma migrate deploy`) cannot run on these machines. Bookkeeping is Prisma's own `_prisma_migrations`
// table, kept exactly as the engine keeps it, so `prisma migrate deploy` sees the same history where it can run.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';

export type Provider = 'sqlite' | 'postgresql';

/** The key Prisma's schema engine takes with pg_advisory_lock, so we also exclude a concurrent `prisma migrate`. */
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

/** The engine's DDL for its bookkeeping table (sql-schema-connector, flavour/sqlite.rs and flavour/postgres.rs). */
const MIGRATIONS_TABLE_DDL: Record<Provider, string> = {
  sqlite: `CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);`,
  postgresql: `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);`,
};

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

/**
 * `<repo>/migrations`, found by walking up from this file, so it resolves the same from src/store/ (tsx, vitest)
 * and from a compiled dist/src/store/.
 */
export function defaultMigrationsRoot(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'migrations');
    if (['sqlite', 'postgresql'].some((p) => existsSync(path.join(candidate, p, 'migration_lock.toml')))) {
      return candidate;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`No migrations directory (with <provider>/migration_lock.toml) found above ${start}`);
    }
  }
}

export function migrationChecksum(script: string | Buffer): string {
  return createHash('sha256').update(script).digest('hex');
}

/** Prisma accepts a script whose line endings git changed since it was applied; so do we. */
function scriptMatchesChecksum(file: MigrationFile, checksum: string): boolean {
  if (file.checksum === checksum) return true;
  const lf = file.sql.replace(/\r\n/g, '\n');
  return migrationChecksum(lf) === checksum || migrationChecksum(lf.replace(/\n/g, '\r\n')) === checksum;
}

async function readMigrationFiles(provider: Provider, root: string): Promise<MigrationFile[]> {
  const dir = path.join(root, provider);
  const lock = await readFile(path.join(dir, 'migration_lock.toml'), 'utf8').catch(() => null);
  const locked = lock?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1];
  if (locked !== undefined && locked !== provider) {
    throw new Error(`${dir}/migration_lock.toml says provider "${locked}", expected "${provider}"`);
  }
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read the ${provider} migrations directory ${dir}: ${err.message}`);
  });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name, 'migration.sql');
      const bytes = await readFile(file).catch(() => {
        throw new Error(`Migration "${name}" has no migration.sql (${file})`);
      });
      return { name, sql: bytes.toString('utf8'), checksum: migrationChecksum(bytes) };
    }),
  );
}

/**
 * Checks the recorded history against the files and returns the names already applied. Throws, naming the
 * migration, when a migration failed half-way, was edited after it was applied, or is unknown to the files.
 */
function checkHistory(rows: MigrationRow[], files: MigrationFile[], root: string): Set<string> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const applied = new Set<string>();
  for (const row of rows) {
    if (row.rolled_back_at != null) continue; // Prisma ignores rows marked rolled back.
    const file = byName.get(row.migration_name);
    if (row.finished_at == null) {
      throw new Error(
        `Migration "${row.migration_name}" was started but never finished in this database (a failed migration); ` +
          'repair the database and mark it with `prisma migrate resolve` before starting.',
      );
    }
    if (!file) {
      throw new Error(
        `The database has migration "${row.migration_name}" applied, but it is not among the migrations in ` +
          `${root}: the database belongs to a newer or different version of this code; refusing to start.`,
      );
    }
    if (!scriptMatchesChecksum(file, row.checksum)) {
      throw new Error(
        `Migration "${row.migration_name}" was modified after it was applied: its checksum in the database is ` +
          `${row.checksum}, the file's is ${file.checksum}. Never edit an applied migration; add a new one.`,
      );
    }
    applied.add(row.migration_name);
  }
  return applied;
}

function describeFailure(name: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`Migration "${name}" failed and was rolled back: ${message}`, { cause: err });
}

/**
 * Applies the missing SQLite migrations, each in its own `BEGIN IMMEDIATE` transaction together with its
 * `_prisma_migrations` row. The state is re-read inside each write transaction, so processes starting together
 * on one file apply every migration once. Returns the names newly applied.
 */
export async function migrateSqlite(db: BetterSqlite3.Database, migrationsRoot?: string): Promise<string[]> {
  const root = migrationsRoot ?? defaultMigrationsRoot();
  const files = await readMigrationFiles('sqlite', root);
  if (db.inTransaction) throw new Error('migrateSqlite needs a connection that is not inside a transaction');

  // Synchronous from here on: an await inside a write transaction would let another connection of this process
  // wait on the lock while blocking the thread that holds it.
  const immediate = <T>(fn: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  };
  const history = (): Set<string> => {
    const rows = db
      .prepare(
        `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`,
      )
      .all() as MigrationRow[];
    return checkHistory(rows, files, root);
  };

  immediate(() => {
    const exists = db
      .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'`)
      .get();
    if (!exists) db.exec(MIGRATIONS_TABLE_DDL.sqlite);
  });
  const insert = db.prepare(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`,
  );

  const newlyApplied: string[] = [];
  let applied = immediate(history);
  for (const file of files) {
    if (applied.has(file.name)) continue;
    immediate(() => {
      applied = history();
      if (applied.has(file.name)) return; // another process got there first
      // Prisma's engine writes DateTime values to SQLite as Unix epoch milliseconds.
      const startedAt = Date.now();
      try {
        db.exec(file.sql);
      } catch (err) {
        throw describeFailure(file.name, err);
      }
      insert.run(randomUUID(), file.checksum, Date.now(), file.name, startedAt);
      newlyApplied.push(file.name);
    });
  }
  return newlyApplied;
}

/**
 * Applies the missing PostgreSQL migrations, each in its own transaction together with its `_prisma_migrations`
 * row, while holding Prisma's advisory lock on one dedicated connection, so gateways starting together (or a
 * concurrent `prisma migrate`) apply every migration once. Returns the names newly applied.
 */
export async function migratePostgres(pool: Pool, migrationsRoot?: string): Promise<string[]> {
  const root = migrationsRoot ?? defaultMigrationsRoot();
  const files = await readMigrationFiles('postgresql', root);
  const client = await pool.connect();
  let unlockFailure: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    try {
      return await migratePostgresLocked(client, files, root);
    } finally {
      // A session-level lock: if unlocking fails, the connection is destroyed below, which releases it.
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]).catch((err: Error) => {
        unlockFailure = err;
      });
    }
  } finally {
    client.release(unlockFailure);
  }
}

async function migratePostgresLocked(client: PoolClient, files: MigrationFile[], root: string): Promise<string[]> {
  const { rows: exists } = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists`,
  );
  if (!exists[0]?.exists) await client.query(MIGRATIONS_TABLE_DDL.postgresql);

  const { rows } = await client.query<MigrationRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at',
  );
  const applied = checkHistory(rows, files, root);

  const newlyApplied: string[] = [];
  for (const file of files) {
    if (applied.has(file.name)) continue;
    const startedAt = new Date();
    await client.query('BEGIN');
    try {
      try {
        await client.query(file.sql);
      } catch (err) {
        throw describeFailure(file.name, err);
      }
      await client.query(
        `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
        [randomUUID(), file.checksum, file.name, startedAt],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    newlyApplied.push(file.name);
  }
  return newlyApplied;
}
