// The committed migrations must build exactly the database schema.prisma describes, on both providers, and the
// runner must keep Prisma's `_prisma_migrations` bookkeeping, apply each migration once, and refuse a history
// that does not match the files.
import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import * as schemaWasm from '@prisma/prisma-schema-wasm';
import { defaultMigrationsRoot, migratePostgres, migrateSqlite, type Provider } from '../../src/store/migrations.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const INIT = '20261122000000_init';
/** Every committed migration, in the order they apply (the same names for both providers). */
const ALL = readdirSync(path.join(repoRoot, 'migrations', 'sqlite'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const SLOW = 60_000;
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// ---------------------------------------------------------------------------------------------------------------
// What schema.prisma says the database must be (from Prisma's own DMMF).

interface ColumnShape {
  name: string;
  type: string;
  nullable: boolean;
}
interface IndexShape {
  name: string;
  unique: boolean;
  columns: string[];
}
interface TableShape {
  columns: ColumnShape[];
  primaryKey: { name: string | null; columns: string[] };
  indexes: IndexShape[];
}
type SchemaShape = Record<string, TableShape>;

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: string;
  type: string;
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  nativeType?: unknown;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'normal' | 'unique' | 'fulltext';
  dbName?: string | null;
  fields: { name: string }[];
}

/** The column type Prisma's schema engine renders for each scalar (and what the databases report back). */
const COLUMN_TYPES: Record<Provider, Record<string, string>> = {
  sqlite: {
    String: 'TEXT',
    Int: 'INTEGER',
    BigInt: 'BIGINT',
    Float: 'REAL',
    Decimal: 'DECIMAL',
    Boolean: 'BOOLEAN',
    DateTime: 'DATETIME',
    Json: 'JSONB',
    Bytes: 'BLOB',
  },
  postgresql: {
    String: 'text',
    Int: 'integer',
    BigInt: 'bigint',
    Float: 'double precision',
    Decimal: 'numeric(65,30)',
    Boolean: 'boolean',
    DateTime: 'timestamp(3) without time zone',
    Json: 'jsonb',
    Bytes: 'bytea',
  },
};
const MAX_IDENTIFIER_LENGTH: Record<Provider, number> = { sqlite: 10_000, postgresql: 63 };

/** Prisma's default constraint names (psl ConstraintNames), truncated as it truncates them. */
function defaultIndexName(table: string, columns: string[], suffix: '_idx' | '_key', provider: Provider): string {
  const limit = MAX_IDENTIFIER_LENGTH[provider] - suffix.length;
  const base = `${table}_${columns.join('_')}`;
  return (base.length >= limit ? base.slice(0, limit) : base) + suffix;
}
function defaultPrimaryKeyName(table: string, provider: Provider): string {
  const limit = MAX_IDENTIFIER_LENGTH[provider] - 5;
  return (table.length >= limit ? table.slice(0, limit) : table) + '_pkey';
}

function expectedShape(schemaFile: string, provider: Provider): SchemaShape {
  const prismaSchema = readFileSync(schemaFile, 'utf8');
  const dmmf = JSON.parse(schemaWasm.get_dmmf(JSON.stringify({ prismaSchema }))) as {
    datamodel: { models: DmmfModel[]; indexes: DmmfIndex[]; enums: unknown[] };
  };
  expect(dmmf.datamodel.enums, 'enums need column-type rules in this test').toEqual([]);

  const shape: SchemaShape = {};
  for (const model of dmmf.datamodel.models) {
    const table = model.dbName ?? model.name;
    const scalars = model.fields.filter((f) => f.kind !== 'object');
    const column = (fieldName: string): string => {
      const field = scalars.find((f) => f.name === fieldName);
      if (!field) throw new Error(`${model.name}.${fieldName} is not a scalar field`);
      return field.dbName ?? field.name;
    };
    const columns = scalars.map((f) => {
      const type = COLUMN_TYPES[provider][f.type];
      if (f.kind !== 'scalar' || f.isList || f.nativeType || !type) {
        throw new Error(`${model.name}.${f.name} (${f.type}) needs a column-type rule in this test`);
      }
      return { name: f.dbName ?? f.name, type, nullable: !f.isRequired };
    });
    const pkFields = model.primaryKey?.fields ?? scalars.filter((f) => f.isId).map((f) => f.name);
    expect(pkFields.length, `${model.name} has a primary key`).toBeGreaterThan(0);
    const indexes = dmmf.datamodel.indexes
      .filter((i) => i.model === model.name && (i.type === 'unique' || i.type === 'normal'))
      .map((i) => {
        const cols = i.fields.map((f) => column(f.name));
        const unique = i.type === 'unique';
        return {
          name: i.dbName ?? defaultIndexName(table, cols, unique ? '_key' : '_idx', provider),
          unique,
          columns: cols,
        };
      });
    expect(
      dmmf.datamodel.indexes.filter((i) => i.model === model.name && i.type === 'fulltext'),
      'fulltext indexes need rules in this test',
    ).toEqual([]);
    shape[table] = {
      columns,
      primaryKey: {
        name: provider === 'sqlite' ? null : (model.primaryKey?.name ?? defaultPrimaryKeyName(table, provider)),
        columns: pkFields.map(column),
      },
      indexes: indexes.sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------------------------
// What the migrated databases actually are.

function introspectSqlite(db: Database.Database): { tables: string[]; shape: SchemaShape } {
  const tables = (
    db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as {
      name: string;
    }[]
  ).map((t) => t.name);
  const shape: SchemaShape = {};
  for (const table of tables.filter((t) => t !== '_prisma_migrations')) {
    const info = db.pragma(`table_info("${table}")`) as {
      name: string;
      type: string;
      notnull: number;
      pk: number;
    }[];
    const indexList = db.pragma(`index_list("${table}")`) as { name: string; unique: number; origin: string }[];
    shape[table] = {
      columns: info.map((c) => ({ name: c.name, type: c.type, nullable: c.notnull === 0 })),
      primaryKey: {
        name: null,
        columns: info
          .filter((c) => c.pk > 0)
          .sort((a, b) => a.pk - b.pk)
          .map((c) => c.name),
      },
      indexes: indexList
        .filter((i) => i.origin !== 'pk')
        .map((i) => ({
          name: i.name,
          unique: i.unique === 1,
          columns: (db.pragma(`index_info("${i.name}")`) as { seqno: number; name: string }[])
            .sort((a, b) => a.seqno - b.seqno)
            .map((c) => c.name),
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
  return { tables: tables.sort(), shape };
}

async function introspectPostgres(client: pg.ClientBase): Promise<{ tables: string[]; shape: SchemaShape }> {
  const { rows: tableRows } = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  const tables = tableRows.map((r) => r.table_name);
  const shape: SchemaShape = {};
  for (const table of tables.filter((t) => t !== '_prisma_migrations')) {
    const { rows: columns } = await client.query<{ name: string; type: string; notnull: boolean }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [table],
    );
    const { rows: indexes } = await client.query<{
      name: string;
      unique: boolean;
      primary: boolean;
      columns: string[];
    }>(
      `SELECT i.relname AS name, ix.indisunique AS unique, ix.indisprimary AS primary,
              array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE n.nspname = current_schema() AND t.relname = $1
        GROUP BY i.relname, ix.indisunique, ix.indisprimary`,
      [table],
    );
    const { rows: constraints } = await client.query<{ conname: string; contype: string }>(
      `SELECT conname, contype FROM pg_constraint
        WHERE conrelid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = current_schema() AND c.relname = $1)`,
      [table],
    );
    const pk = indexes.filter((i) => i.primary);
    expect(pk, `${table} has one primary key`).toHaveLength(1);
    expect(constraints, `${table}: Prisma makes only the primary key a constraint`).toEqual([
      { conname: pk[0]!.name, contype: 'p' },
    ]);
    shape[table] = {
      columns: columns.map((c) => ({ name: c.name, type: c.type, nullable: !c.notnull })),
      primaryKey: { name: pk[0]!.name, columns: pk[0]!.columns },
      indexes: indexes
        .filter((i) => !i.primary)
        .map((i) => ({ name: i.name, unique: i.unique, columns: i.columns }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
  return { tables: tables.sort(), shape };
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'replay-migrations-'));
  tempDirs.push(dir);
  return dir;
}
function openTempSqlite(): { db: Database.Database; file: string } {
  const file = path.join(tempDir(), 'test.db');
  return { db: new Database(file), file };
}
/** A copy of the committed migrations that a test may add to or edit. */
function copyOfMigrations(): string {
  const root = path.join(tempDir(), 'migrations');
  cpSync(defaultMigrationsRoot(), root, { recursive: true });
  return root;
}
function addMigration(root: string, provider: Provider, name: string, sql: string): void {
  mkdirSync(path.join(root, provider, name));
  writeFileSync(path.join(root, provider, name, 'migration.sql'), sql);
}
function fileChecksum(provider: Provider, name: string): string {
  const bytes = readFileSync(path.join(repoRoot, 'migrations', provider, name, 'migration.sql'));
  return createHash('sha256').update(bytes).digest('hex');
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------

describe('SQLite migrations', () => {
  it('build every table, column, primary key, unique constraint and index of schema.prisma', async () => {
    const { db } = openTempSqlite();
    try {
      expect(await migrateSqlite(db)).toEqual(ALL);
      const expected = expectedShape(path.join(repoRoot, 'schema.prisma'), 'sqlite');
      const actual = introspectSqlite(db);
      expect(actual.tables).toEqual([...Object.keys(expected), '_prisma_migrations'].sort());
      expect(actual.shape).toEqual(expected);
    } finally {
      db.close();
    }
  });

  it("keep Prisma's _prisma_migrations table and rows", async () => {
    const { db } = openTempSqlite();
    try {
      await migrateSqlite(db);
      const columns = db.pragma('table_info("_prisma_migrations")') as {
        name: string;
        type: string;
        notnull: number;
        pk: number;
      }[];
      expect(columns.map((c) => [c.name, c.type, c.notnull, c.pk])).toEqual([
        ['id', 'TEXT', 1, 1],
        ['checksum', 'TEXT', 1, 0],
        ['finished_at', 'DATETIME', 0, 0],
        ['migration_name', 'TEXT', 1, 0],
        ['logs', 'TEXT', 0, 0],
        ['rolled_back_at', 'DATETIME', 0, 0],
        ['started_at', 'DATETIME', 1, 0],
        ['applied_steps_count', 'INTEGER UNSIGNED', 1, 0],
      ]);
      const rows = db.prepare('SELECT * FROM _prisma_migrations ORDER BY migration_name').all() as Record<string, unknown>[];
      expect(rows.map((r) => r.migration_name)).toEqual(ALL);
      const row = rows[0]!;
      expect(row).toMatchObject({
        migration_name: INIT,
        checksum: fileChecksum('sqlite', INIT),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      });
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      // The engine stores DateTime on SQLite as epoch milliseconds.
      expect(typeof row.finished_at).toBe('number');
      expect(Math.abs(Number(row.finished_at) - Date.now())).toBeLessThan(60_000);
      expect(Number(row.finished_at)).toBeGreaterThanOrEqual(Number(row.started_at));
    } finally {
      db.close();
    }
  });

  it('apply nothing the second time, and only what is new later', async () => {
    const { db } = openTempSqlite();
    try {
      expect(await migrateSqlite(db)).toEqual(ALL);
      expect(await migrateSqlite(db)).toEqual([]);
      const root = copyOfMigrations();
      addMigration(root, 'sqlite', '20261201000000_extra', 'CREATE TABLE "extra" ("id" TEXT NOT NULL PRIMARY KEY);\n');
      expect(await migrateSqlite(db, root)).toEqual(['20261201000000_extra']);
      expect(await migrateSqlite(db, root)).toEqual([]);
      expect(db.prepare('SELECT count(*) AS n FROM _prisma_migrations').get()).toEqual({ n: ALL.length + 1 });
    } finally {
      db.close();
    }
  });

  it('refuse to start when an applied migration was edited', async () => {
    const { db } = openTempSqlite();
    try {
      await migrateSqlite(db);
      db.prepare('UPDATE _prisma_migrations SET checksum = ? WHERE migration_name = ?').run('0'.repeat(64), INIT);
      await expect(migrateSqlite(db)).rejects.toThrow(new RegExp(`${INIT}.*modified after it was applied`));

      db.prepare('UPDATE _prisma_migrations SET checksum = ? WHERE migration_name = ?').run(fileChecksum('sqlite', INIT), INIT);
      const root = copyOfMigrations();
      appendFileSync(path.join(root, 'sqlite', INIT, 'migration.sql'), '\n-- an edit after release\n');
      await expect(migrateSqlite(db, root)).rejects.toThrow(new RegExp(`${INIT}.*modified after it was applied`));
      expect(await migrateSqlite(db)).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('accept an applied migration whose line endings git changed', async () => {
    const { db } = openTempSqlite();
    try {
      await migrateSqlite(db);
      const root = copyOfMigrations();
      const file = path.join(root, 'sqlite', INIT, 'migration.sql');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
      expect(await migrateSqlite(db, root)).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('refuse to start when the database has a migration the files do not', async () => {
    const { db } = openTempSqlite();
    try {
      await migrateSqlite(db);
      db.prepare(
        `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
         VALUES ('x', ?, ?, '29990101000000_from_the_future', ?, 1)`,
      ).run('a'.repeat(64), Date.now(), Date.now());
      await expect(migrateSqlite(db)).rejects.toThrow(/29990101000000_from_the_future.*not among the migrations/);
    } finally {
      db.close();
    }
  });

  it('refuse to start after a migration that failed half-way in another tool', async () => {
    const { db } = openTempSqlite();
    try {
      await migrateSqlite(db);
      db.prepare(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ('y', ?, ?, ?, 0)`,
      ).run(fileChecksum('sqlite', INIT), '20261201000000_failed', Date.now());
      await expect(migrateSqlite(db)).rejects.toThrow(/20261201000000_failed.*never finished/);
    } finally {
      db.close();
    }
  });

  it('roll a failing migration back whole, with no record of it', async () => {
    const { db } = openTempSqlite();
    try {
      const root = copyOfMigrations();
      addMigration(root, 'sqlite', '20261201000000_broken', 'CREATE TABLE "half_done" ("x" TEXT);\nNOT SQL AT ALL;\n');
      await expect(migrateSqlite(db, root)).rejects.toThrow(/20261201000000_broken/);
      const names = db.prepare('SELECT migration_name FROM _prisma_migrations').pluck().all();
      expect(names).toEqual(ALL);
      expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'half_done'`).get()).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it(
    'apply once when several processes start on one file together',
    async () => {
      const { file } = openTempSqlite();
      const runner = new URL('../../src/store/migrations.ts', import.meta.url).href;
      const script = `
        import Database from 'better-sqlite3';
        const { migrateSqlite } = await import(${JSON.stringify(runner)});
        const db = new Database(process.argv[1]);
        process.stdout.write(JSON.stringify(await migrateSqlite(db)));
        db.close();`;
      const run = promisify(execFile);
      const results = await Promise.all(
        Array.from({ length: 4 }, () =>
          run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file], { cwd: repoRoot }),
        ),
      );
      expect(results.flatMap((r) => JSON.parse(r.stdout) as string[])).toEqual(ALL);
      const db = new Database(file);
      try {
        expect(db.prepare('SELECT count(*) AS n FROM _prisma_migrations').get()).toEqual({ n: ALL.length });
      } finally {
        db.close();
      }
    },
    SLOW,
  );
});

// ---------------------------------------------------------------------------------------------------------------

async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message || err.name : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const pgUnavailable = await probePostgres();
if (pgUnavailable !== null) {
  const where = new URL(PG_URL);
  where.password = '';
  console.warn(`PostgreSQL migration tests skipped: cannot reach ${where.href} (${pgUnavailable})`);
}

describe.skipIf(pgUnavailable !== null)('PostgreSQL migrations', () => {
  const createdDatabases: string[] = [];
  const pools: pg.Pool[] = [];

  /** A fresh, empty database for one test; dropped after the suite. */
  async function freshDatabase(): Promise<string> {
    const name = `replay_migrations_${process.pid}_${createdDatabases.length}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    createdDatabases.push(name);
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    return url.href;
  }
  function pool(url: string): pg.Pool {
    const p = new pg.Pool({ connectionString: url, max: 3 });
    pools.push(p);
    return p;
  }

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      for (const name of createdDatabases) await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    } finally {
      await admin.end();
    }
  }, SLOW);

  it(
    'build every table, column, primary key, unique constraint and index of the PostgreSQL twin of schema.prisma',
    async () => {
      const twin = path.join(repoRoot, 'src/generated/prisma/postgresql.prisma');
      const expected = expectedShape(twin, 'postgresql');
      const p = pool(await freshDatabase());
      expect(await migratePostgres(p)).toEqual(ALL);
      const client = await p.connect();
      try {
        const actual = await introspectPostgres(client);
        expect(actual.tables).toEqual([...Object.keys(expected), '_prisma_migrations'].sort());
        expect(actual.shape).toEqual(expected);
      } finally {
        client.release();
      }
    },
    SLOW,
  );

  it(
    'compress every JSON column with lz4 where the server has it (pglz, the default, where it has not)',
    async () => {
      const p = pool(await freshDatabase());
      await migratePostgres(p);
      const { rows: lz4 } = await p.query(`SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)`);
      const { rows } = await p.query<{ column: string; compression: string }>(
        `SELECT c.relname || '.' || a.attname AS column, a.attcompression AS compression
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.atttypid = 'jsonb'::regtype AND NOT a.attisdropped
          ORDER BY 1`,
      );
      expect(rows.length).toBeGreaterThanOrEqual(13);
      expect(rows.filter((row) => row.compression !== (lz4.length > 0 ? 'l' : ''))).toEqual([]);
    },
    SLOW,
  );

  it(
    "keep Prisma's _prisma_migrations table and rows",
    async () => {
      const p = pool(await freshDatabase());
      await migratePostgres(p);
      const { rows: columns } = await p.query(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
           FROM pg_attribute a WHERE a.attrelid = '_prisma_migrations'::regclass AND a.attnum > 0 ORDER BY a.attnum`,
      );
      expect(columns.map((c) => [c.name, c.type, c.notnull])).toEqual([
        ['id', 'character varying(36)', true],
        ['checksum', 'character varying(64)', true],
        ['finished_at', 'timestamp with time zone', false],
        ['migration_name', 'character varying(255)', true],
        ['logs', 'text', false],
        ['rolled_back_at', 'timestamp with time zone', false],
        ['started_at', 'timestamp with time zone', true],
        ['applied_steps_count', 'integer', true],
      ]);
      const { rows } = await p.query('SELECT * FROM _prisma_migrations ORDER BY migration_name');
      expect(rows.map((r) => r.migration_name)).toEqual(ALL);
      expect(rows[0]).toMatchObject({
        migration_name: INIT,
        checksum: fileChecksum('postgresql', INIT),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      });
      expect(rows[0].finished_at).toBeInstanceOf(Date);
      expect(rows[0].finished_at.getTime()).toBeGreaterThanOrEqual(rows[0].started_at.getTime());
    },
    SLOW,
  );

  it(
    'apply nothing the second time, and refuse an edited or unknown migration',
    async () => {
      const p = pool(await freshDatabase());
      expect(await migratePostgres(p)).toEqual(ALL);
      expect(await migratePostgres(p)).toEqual([]);

      await p.query('UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2', ['0'.repeat(64), INIT]);
      await expect(migratePostgres(p)).rejects.toThrow(new RegExp(`${INIT}.*modified after it was applied`));
      await p.query('UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2', [fileChecksum('postgresql', INIT), INIT]);
      expect(await migratePostgres(p)).toEqual([]);

      await p.query(
        `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count)
         VALUES ('x', $1, now(), '29990101000000_from_the_future', 1)`,
        ['a'.repeat(64)],
      );
      await expect(migratePostgres(p)).rejects.toThrow(/29990101000000_from_the_future.*not among the migrations/);
      // A refusal leaves Prisma's lock free for the next process.
      const { rows } = await p.query(`SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      expect(rows[0].n).toBe(0);
    },
    SLOW,
  );

  it(
    'roll a failing migration back whole, with no record of it',
    async () => {
      const p = pool(await freshDatabase());
      const root = copyOfMigrations();
      addMigration(root, 'postgresql', '20261201000000_broken', 'CREATE TABLE "half_done" ("x" TEXT);\nNOT SQL;\n');
      await expect(migratePostgres(p, root)).rejects.toThrow(/20261201000000_broken/);
      const { rows } = await p.query('SELECT migration_name FROM _prisma_migrations');
      expect(rows.map((r) => r.migration_name)).toEqual(ALL);
      const { rows: half } = await p.query(`SELECT to_regclass('half_done') AS t`);
      expect(half[0].t).toBeNull();
    },
    SLOW,
  );

  it(
    "wait for Prisma's advisory lock, and apply once when several gateways start together",
    async () => {
      const url = await freshDatabase();
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query('SELECT pg_advisory_lock(72707369)');
        let settled = false;
        const waiting = migratePostgres(pool(url)).finally(() => {
          settled = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(settled).toBe(false);
        const { rows } = await holder.query(`SELECT to_regclass('_prisma_migrations') AS t`);
        expect(rows[0].t).toBeNull();
        await holder.query('SELECT pg_advisory_unlock(72707369)');
        expect(await waiting).toEqual(ALL);
      } finally {
        await holder.end();
      }

      const fresh = await freshDatabase();
      const results = await Promise.all(Array.from({ length: 4 }, () => migratePostgres(pool(fresh))));
      expect(results.flat()).toEqual(ALL);
      const { rows } = await pool(fresh).query('SELECT count(*)::int AS n FROM _prisma_migrations');
      expect(rows[0].n).toBe(ALL.length);
    },
    SLOW,
  );
});
