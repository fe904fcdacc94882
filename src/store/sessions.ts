import { Prisma, type Session } from '../generated/prisma/sqlite/client.js';
import type { Database, Db, Tx } from './database.js';

export type SessionRow = Session;
export type SessionKey = { personId: string; sessionId: string };

/**
 * Reads a session inside a write transaction so concurrent updates to it run one after another:
 * a row lock on PostgreSQL; SQLite transactions are already serialised on its single connection.
 */
export async function lockSession(tx: Tx, provider: Database['provider'], key: SessionKey): Promise<SessionRow | null> {
  if (provider === 'postgresql') {
    // What the lock found decides: under READ COMMITTED a later read could see a session committed after this
    // statement took no lock, and two writers would then both extend it (a deadlock or a lost update).
    // Absent here means absent: createSession then loses the race on the primary key and the write is retried.
    const locked = await tx.$queryRaw<unknown[]>`SELECT 1 FROM sessions WHERE person_id = ${key.personId} AND session_id = ${key.sessionId} FOR UPDATE`;
    if (locked.length === 0) return null;
  }
  return tx.session.findUnique({ where: { personId_sessionId: key } });
}

export const createSession = (tx: Tx, data: Prisma.SessionUncheckedCreateInput) => tx.session.create({ data });

export const updateSession = (tx: Tx, key: SessionKey, data: Prisma.SessionUncheckedUpdateInput) =>
  tx.session.update({ where: { personId_sessionId: key }, data });

export const findSessions = (db: Db, keys: readonly SessionKey[]) =>
  db.session.findMany({ where: { OR: keys.map((key) => ({ personId: key.personId, sessionId: key.sessionId })) } });

/** Most recently active first, keyset on (lastAt, sessionId). */
export function listSessions(db: Db, personId: string, limit: number, after: { lastAt: Date; sessionId: string } | null) {
  return db.session.findMany({
    where: after
      ? {
          personId,
          OR: [{ lastAt: { lt: after.lastAt } }, { lastAt: after.lastAt, sessionId: { lt: after.sessionId } }],
        }
      : { personId },
    orderBy: [{ lastAt: 'desc' }, { sessionId: 'desc' }],
    take: limit,
  });
}

export const countSessions = (db: Db, personId: string) => db.session.count({ where: { personId } });

/**
 * After traces were deleted: recount the sessions they belonged to (those that began before `touchedBefore`,
 * or the one named), and drop sessions left with no trace at all.
 */
export async function refreshSessionAggregates(tx: Tx, scope: { touchedBefore: Date } | SessionKey) {
  const which =
    'touchedBefore' in scope
      ? Prisma.sql`first_at < ${scope.touchedBefore}`
      : Prisma.sql`person_id = ${scope.personId} AND session_id = ${scope.sessionId}`;
  const ofSession = Prisma.sql`t.person_id = sessions.person_id AND t.session_id = sessions.session_id`;
  await tx.$executeRaw`UPDATE sessions SET
      trace_count = (SELECT COUNT(*) FROM traces t WHERE ${ofSession} AND t.seq IS NOT NULL),
      first_at = COALESCE((SELECT MIN(t."timestamp") FROM traces t WHERE ${ofSession} AND t.seq IS NOT NULL), first_at)
    WHERE ${which}`;
  await tx.$executeRaw`DELETE FROM sessions WHERE ${which} AND trace_count = 0
    AND NOT EXISTS (SELECT 1 FROM traces t WHERE ${ofSession})`;
}
