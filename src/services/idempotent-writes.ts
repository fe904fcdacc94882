import { AppError } from '../errors.js';
import type { Db, Tx } from '../store/database.js';
import { findIdempotentResponse, recordIdempotentResponse, type IdempotencyScope } from '../store/idempotency.js';

/** True when a write lost a race on a unique key (a concurrent twin committed first). */
export const isUniqueViolation = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';

/**
 * Runs a write, and when it loses a unique-key race runs it again: the second attempt sees the winner's
 * committed row (an idempotency record or a session) and takes the path for it.
 */
export async function retryOnUniqueViolation<T>(write: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= attempts) throw error;
    }
  }
}

export interface WriteOnce<T, S> {
  write: (tx: Tx) => Promise<T>;
  /** What to keep of the first result, as JSON. */
  toStored: (result: T) => S;
  /** The first result again, from what was kept, read through `tx` (null when it can no longer be rebuilt). */
  fromStored: (stored: S, tx: Tx) => Promise<T | null> | T | null;
}

/**
 * A mutation with an optional idempotency key: the key is looked up, and the write and the record of its result
 * commit, in one transaction; a retry with the same key returns the first result and writes nothing, even when
 * the two race (the loser fails on the key's primary key and is retried into the lookup). A key whose first
 * result is gone (deleted since) answers CONFLICT rather than writing again.
 */
export function writeOnce<T, S extends object>(
  db: Db,
  key: IdempotencyScope | null,
  now: () => Date,
  steps: WriteOnce<T, S>,
): Promise<{ result: T; duplicate: boolean }> {
  return retryOnUniqueViolation(() =>
    db.$transaction(async (tx) => {
      const stored = key ? await findIdempotentResponse<S>(tx, key) : null;
      if (key && stored) {
        const result = await steps.fromStored(stored, tx);
        if (!result) throw new AppError('CONFLICT', `The first result for this ${key.operation} key is no longer available (deleted since)`, { key: key.key });
        return { result, duplicate: true };
      }
      const result = await steps.write(tx);
      if (key) await recordIdempotentResponse(tx, key, steps.toStored(result), now());
      return { result, duplicate: false };
    }),
  );
}
