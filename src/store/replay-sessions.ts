import type { Prisma, ReplaySession } from '../generated/prisma/sqlite/client.js';
import type { Db } from './database.js';

export type ReplaySessionRow = ReplaySession;

export const createReplaySession = (db: Db, data: Prisma.ReplaySessionUncheckedCreateInput) => db.replaySession.create({ data });

/** Marks a session used now, only if it has not expired (one conditional update, no read-then-write race). */
export async function touchReplaySession(db: Db, id: string, now: Date, expiredBefore: Date): Promise<ReplaySessionRow | null> {
  const { count } = await db.replaySession.updateMany({ where: { id, lastUsedAt: { gte: expiredBefore } }, data: { lastUsedAt: now } });
  return count === 0 ? null : db.replaySession.findUnique({ where: { id } });
}

/** Deletes a session; returns how many were still live (an expired one is removed but does not count). */
export async function deleteReplaySession(db: Db, id: string, expiredBefore: Date): Promise<number> {
  const { count } = await db.replaySession.deleteMany({ where: { id, lastUsedAt: { gte: expiredBefore } } });
  await db.replaySession.deleteMany({ where: { id } });
  return count;
}

export const deleteExpiredReplaySessions = (db: Db, expiredBefore: Date) =>
  db.replaySession.deleteMany({ where: { lastUsedAt: { lt: expiredBefore } } });

/** Every zone a simulation's agents were ever in (what a layout must be able to draw). */
export async function zonesUsed(db: Db, nodeId: string): Promise<Set<string>> {
  const rows = await db.simulationTick.findMany({ where: { nodeId }, select: { zonePopulations: true } });
  return new Set(rows.flatMap((row) => Object.keys(row.zonePopulations as Record<string, number>)));
}

export const eventMarkers = (db: Db, nodeId: string) =>
  db.simulationEvent.findMany({ where: { nodeId }, orderBy: [{ tick: 'asc' }, { eventId: 'asc' }] });
