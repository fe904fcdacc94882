// On PostgreSQL the hot write paths send their statements with node-pg on the connection of the Prisma transaction
// they run in. These tests hold that to what must not change: each write lands in its own transaction (never in
// another's, never outside one), rolls back with it, and nothing reaches the connection once the transaction ends.
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { RowShape } from '../../src/store/bulk-insert.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { freshDatabase } from '../support/databases.js';
import { postgresAvailability } from '../support/postgres-availability.js';

const postgres = await postgresAvailability();
if (!postgres.available) console.warn(`PostgreSQL transaction-connection tests skipped: ${postgres.reason}`);

const PROBES: RowShape = { table: 'probes', columns: ['id', 'label', 'at', 'data'], json: ['data'] };
interface Probe {
  id: number;
  label: string;
  at: Date;
  data: unknown;
}
const probe = (id: number, at = new Date(Date.UTC(2026, 10, 22, 12, 0, id))): Probe => ({ id, label: `probe ${id}`, at, data: { id, tags: ['a', 'b'] } });
const values = (p: Probe) => [p.id, p.label, p.at, p.data];

describe.skipIf(!postgres.available)('PostgreSQL bulk writes on the transaction’s connection', () => {
  let store: Awaited<ReturnType<typeof freshDatabase>>;
  let database: Database;
  let observer: pg.Client;
  const committedIds = async () => (await observer.query<{ id: number }>('SELECT id FROM probes ORDER BY id')).rows.map((row) => row.id);

  beforeAll(async () => {
    store = await freshDatabase('postgresql');
    database = await openDatabase({ provider: 'postgresql', url: store.url });
    observer = new pg.Client({ connectionString: store.url });
    await observer.connect();
    await observer.query('CREATE TABLE probes (id INTEGER PRIMARY KEY, label TEXT NOT NULL, at TIMESTAMP(3) NOT NULL, data JSONB NOT NULL)');
  });
  afterAll(async () => {
    await observer?.end();
    await database?.close();
    await store?.drop();
  });
  beforeEach(async () => {
    await observer.query('TRUNCATE probes');
  });

  it('writes each concurrent transaction’s rows on its own connection', async () => {
    const ids = [1, 2, 3, 4, 5, 6];
    /** Resolves once every transaction has reached it: all six are open at once, each on its own connection. */
    const barrier = () => {
      let arrived = 0;
      let release!: () => void;
      const all = new Promise<void>((resolve) => (release = resolve));
      return async () => {
        arrived += 1;
        if (arrived === ids.length) release();
        await all;
      };
    };
    const [started, written, read] = [barrier(), barrier(), barrier()];
    const seen = await Promise.all(
      ids.map((id) =>
        database.db.$transaction(async (tx) => {
          await started();
          await database.bulk.insert(PROBES, [probe(id)], values);
          await written();
          const committed = await committedIds();
          // Read through Prisma: a row written on another connection would be invisible here until committed.
          const own = (await tx.$queryRaw<{ id: number }[]>`SELECT id FROM probes ORDER BY id`).map((row) => row.id);
          await read();
          return { own, committed };
        }),
      ),
    );
    expect(seen).toEqual(ids.map((id) => ({ own: [id], committed: [] })));
    expect(await committedIds()).toEqual(ids);
  });

  it('binds JSON as jsonb and times as UTC, whatever the process’s time zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    try {
      const at = new Date('2026-11-22T23:30:00.123Z');
      await database.db.$transaction(() => database.bulk.insert(PROBES, [probe(7, at)], values));
      const { rows } = await observer.query(`SELECT to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS at, data FROM probes`);
      expect(rows).toEqual([{ at: '2026-11-22T23:30:00.123', data: { id: 7, tags: ['a', 'b'] } }]);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('rolls back with the transaction it ran in', async () => {
    const failed = database.db.$transaction(async () => {
      await database.bulk.insert(PROBES, [probe(1), probe(2)], values);
      throw new Error('refused after writing');
    });
    await expect(failed).rejects.toThrow('refused after writing');
    expect(await committedIds()).toEqual([]);
  });

  it('refuses to write outside a transaction', async () => {
    await expect(database.bulk.insert(PROBES, [probe(1)], values)).rejects.toThrow(/No open PostgreSQL transaction/);
    expect(await committedIds()).toEqual([]);
  });

  it('refuses to write once Prisma has ended the transaction (a timeout), so nothing lands outside it', async () => {
    let lateWrite: Promise<string> | undefined;
    const timedOut = database.db.$transaction(
      async () => {
        await database.bulk.insert(PROBES, [probe(1)], values);
        await sleep(400);
        lateWrite = database.bulk.insert(PROBES, [probe(2)], values).then(
          () => 'written',
          (error: Error) => error.message,
        );
        await lateWrite;
      },
      { timeout: 100 },
    );
    await expect(timedOut).rejects.toThrow();
    await sleep(500);
    expect(await lateWrite).toMatch(/No open PostgreSQL transaction/);
    // The connection went back to the pool after the rollback; a later transaction works and writes only its own.
    await database.db.$transaction(() => database.bulk.insert(PROBES, [probe(3)], values));
    expect(await committedIds()).toEqual([3]);
  });
});
