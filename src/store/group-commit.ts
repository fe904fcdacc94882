import type BetterSqlite3 from 'better-sqlite3';
import type { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { Mutex } from 'async-mutex';

export type SqliteAdapter = Awaited<ReturnType<PrismaBetterSqlite3['connect']>>;

/** How many writes one commit carries at most; the rest go in the next. */
const MAX_GROUP = 256;

interface Job {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { value: unknown } | { error: unknown };

/**
 * The SQLite store's writer: every transaction on its one connection, Prisma's and the hot path's, takes one lock.
 * The hot single-row writes (a context update) are synchronous functions of the connection, and those queued while
 * the lock was taken, or in the same turn of the event loop, commit together: one transaction and one fsync for the
 * group, each write in its own savepoint, so one that throws is undone alone and the others still commit. A write's
 * promise settles only after its group's COMMIT has returned: nothing is acknowledged before it is on disk, and a
 * failed COMMIT fails every write of the group.
 */
export class GroupCommit {
  readonly #lock = new Mutex();
  readonly #queue: Job[] = [];
  #scheduled = false;
  readonly #group: BetterSqlite3.Transaction<(jobs: readonly Job[]) => Outcome[]>;

  constructor(connection: BetterSqlite3.Database) {
    const savepoint = connection.transaction((job: Job) => job.work());
    this.#group = connection.transaction((jobs: readonly Job[]) =>
      jobs.map((job): Outcome => {
        try {
          return { value: savepoint(job) };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  /** Runs `work` on the connection inside the next group's transaction; settles once that group has committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /**
   * Makes the adapter's transactions take the same lock, so a group never commits inside one Prisma has open
   * (its transactions span awaits on the same connection) and one never opens while a group is queued before it.
   */
  shareLockWith(adapter: SqliteAdapter): void {
    const start = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => {
      const release = await this.#lock.acquire();
      try {
        const transaction = await start(isolationLevel);
        const settle = (end: () => Promise<void>) => () => end().finally(release);
        transaction.commit = settle(transaction.commit.bind(transaction));
        transaction.rollback = settle(transaction.rollback.bind(transaction));
        return transaction;
      } catch (error) {
        release();
        throw error;
      }
    };
  }

  /** After the I/O callbacks of this turn, so requests that arrived together share a commit. */
  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#lock.runExclusive(() => this.#commitGroup()));
  }

  #commitGroup() {
    this.#scheduled = false;
    const jobs = this.#queue.splice(0, MAX_GROUP);
    if (this.#queue.length > 0) this.#schedule();
    let outcomes: Outcome[];
    try {
      outcomes = this.#group.immediate(jobs);
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => ('error' in outcome ? jobs[i]!.reject(outcome.error) : jobs[i]!.resolve(outcome.value)));
  }
}
