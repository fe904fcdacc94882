import type { Db, Tx } from './database.js';

/** Idempotency keys are scoped (`person:<id>` or `viewer:<id>`) and per operation, so keys never collide across them. */
export interface IdempotencyScope {
  scope: string;
  operation: string;
  key: string;
}

export async function findIdempotentResponse<T>(db: Db | Tx, id: IdempotencyScope): Promise<T | null> {
  const row = await db.idempotencyKey.findUnique({ where: { scope_operation_key: id } });
  return row ? (row.response as T) : null;
}

/** Written in the same transaction as the mutation it records; a concurrent twin fails on the primary key. */
export const recordIdempotentResponse = (tx: Tx, id: IdempotencyScope, response: object, createdAt: Date) =>
  tx.idempotencyKey.create({ data: { ...id, response, createdAt } });

export const deleteIdempotencyKeysBefore = (tx: Tx, cutoff: Date) =>
  tx.idempotencyKey.deleteMany({ where: { createdAt: { lt: cutoff } } });
