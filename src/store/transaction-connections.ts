import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { PrismaPg } from '@prisma/adapter-pg';
import type { Db } from './database.js';

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;
type PgTransaction = Awaited<ReturnType<PgAdapter['startTransaction']>>;

/** Where one interactive transaction's connection is kept while the transaction is open. */
interface Slot {
  client?: pg.PoolClient;
  ended?: boolean;
}

const ENDS = new Set(['COMMIT', 'ROLLBACK']);

/**
 * PostgreSQL: the pool connection under the Prisma transaction the caller runs in, so the hot write paths can
 * send their statements on it directly. Prisma's raw queries serialise every parameter to JSON and parse it back
 * on the main thread: for a recordTicks call, megabytes of agents' JSON, twice.
 *
 * Every interactive transaction of `db` runs in a slot of its own (AsyncLocalStorage); the adapter's
 * startTransaction, called within it, puts there the connection it checked out. The slot closes before Prisma
 * sends the transaction's COMMIT or ROLLBACK (a timeout's too), so a statement can never reach the connection
 * outside its transaction or after the pool has handed it to another.
 */
export class TransactionConnections {
  readonly #slots = new AsyncLocalStorage<Slot>();

  /** Makes the adapter's transactions tell the slot they start in which connection they hold. */
  track(factory: PrismaPg): PrismaPg {
    const connect = factory.connect.bind(factory);
    factory.connect = async () => {
      const adapter = await connect();
      const start = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel) => {
        const transaction = await start(isolationLevel);
        const slot = this.#slots.getStore();
        if (slot) this.#keep(slot, transaction);
        return transaction;
      };
      return adapter;
    };
    return factory;
  }

  /** Runs each interactive transaction of `db` in a slot of its own. */
  slotEach(db: Db): Db {
    const transaction = db.$transaction.bind(db) as (...args: unknown[]) => Promise<unknown>;
    const slotted = (...args: unknown[]) => this.#slots.run({}, () => transaction(...args));
    (db as unknown as { $transaction: typeof slotted }).$transaction = slotted;
    return db;
  }

  /** The connection of the transaction the caller runs in; throws outside one, or once it is ending. */
  current(): pg.PoolClient {
    const slot = this.#slots.getStore();
    if (!slot?.client || slot.ended) throw new Error('No open PostgreSQL transaction here to write in');
    return slot.client;
  }

  #keep(slot: Slot, transaction: PgTransaction) {
    const client = (transaction as unknown as { client: unknown }).client;
    if (!(client instanceof pg.Client)) throw new Error('The PostgreSQL adapter no longer exposes its transaction connection: the hot paths need it');
    slot.client = client as pg.PoolClient;
    const executeRaw = transaction.executeRaw.bind(transaction);
    transaction.executeRaw = (query) => {
      if (ENDS.has(query.sql.trim().toUpperCase())) slot.ended = true;
      return executeRaw(query);
    };
    for (const end of ['commit', 'rollback'] as const) {
      const original = transaction[end].bind(transaction);
      transaction[end] = () => {
        slot.ended = true;
        return original();
      };
    }
  }
}
