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
  /** The first result again, from what was kept (null when it can no longer be rebuilt). */
  fromStored: (stored: S) => Promise<T | null> | T | null;
}

/**
 * A mutation with an optional idempotency key: the write and the record of its result commit together; a
 * retry with the same key returns the first result and writes nothing, even when the two race.
 */
export function writeOnce<T, S extends object>(
  db: Db,
  key: IdempotencyScope | null,
  now: () => Date,
  steps: WriteOnce<T, S>,
): Promise<{ result: T; duplicate: boolean }> {
  return retryOnUniqueViolation(async () => {
    if (key) {
      const stored = await findIdempotentResponse<S>(db, key);
      const result = stored ? await steps.fromStored(stored) : null;
      if (result) return { result, duplicate: true };
    }
    return db.$transaction(async (tx) => {
      const result = await steps.write(tx);
      if (key) await recordIdempotentResponse(tx, key, steps.toStored(result), now());
      return { result, duplicate: false };
    });
  });
}
