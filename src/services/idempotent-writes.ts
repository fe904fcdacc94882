import { AppError } from '../errors.js';
import type { Db, Tx } from '../store/database.js';
import { findIdempotentResponse, recordIdempotentResponse, type IdempotencyScope } from '../store/idempotency.js';
import { retryOnUniqueViolation } from '../store/unique-violations.js';

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
