import type { JsonText } from '../domain/json-text.js';
import type { Prisma, Trace } from '../generated/prisma/sqlite/client.js';
import type { Db, Tx } from './database.js';

export type TraceRow = Trace;
/**
 * A trace as answered: its JSON columns parsed (TraceRow), or still as their stored text where nothing reads
 * them on the way to the response (pages of traces).
 */
export type TraceView = Omit<TraceRow, 'eventData' | 'contextAfter'> & {
  eventData: TraceRow['eventData'] | JsonText;
  contextAfter: TraceRow['contextAfter'] | JsonText;
};
export type NewTrace = Prisma.TraceUncheckedCreateInput;

export interface TraceFilter {
  personId?: string | null;
  sessionId?: string | null;
  eventTypes?: readonly string[] | null;
  from?: Date | null;
  to?: Date | null;
  /** true: only replays; false: only originals; absent: both. */
  replayed?: boolean | null;
}

/** Keyset position in the newest-first list: (timestamp, id) of the last row seen. */
export type TraceKey = { timestamp: Date; id: string };

function whereOf(filter: TraceFilter): Prisma.TraceWhereInput {
  return {
    personId: filter.personId ?? undefined,
    sessionId: filter.sessionId ?? undefined,
    eventType: filter.eventTypes ? { in: [...filter.eventTypes] } : undefined,
    timestamp: filter.from || filter.to ? { gte: filter.from ?? undefined, lte: filter.to ?? undefined } : undefined,
    replayOfId: filter.replayed === true ? { not: null } : filter.replayed === false ? null : undefined,
  };
}

export const insertTrace = (tx: Tx | Db, trace: NewTrace) => tx.trace.create({ data: trace });

export const findTrace = (db: Db | Tx, id: string) => db.trace.findUnique({ where: { id } });

export const findTracesByIds = (db: Db, ids: readonly string[]) => db.trace.findMany({ where: { id: { in: [...ids] } } });

export const findReplaysOf = (db: Db, ids: readonly string[]) =>
  db.trace.findMany({ where: { replayOfId: { in: [...ids] } }, orderBy: [{ timestamp: 'asc' }, { id: 'asc' }] });

export const countTraces = (db: Db, filter: TraceFilter) => db.trace.count({ where: whereOf(filter) });

/** Which part of a session's own history (replays excluded): from a time, up to a position. */
export interface SessionWindow {
  from?: Date | null;
  upToSeq?: number;
}

const sessionHistory = (personId: string, sessionId: string, afterSeq: number, window: SessionWindow) => ({
  personId,
  sessionId,
  seq: { gt: afterSeq, lte: window.upToSeq },
  timestamp: window.from ? { gte: window.from } : undefined,
});

/** A session's own history, oldest first, after position `afterSeq`. */
export const listSessionTraces = (db: Db, personId: string, sessionId: string, limit: number, afterSeq: number, window: SessionWindow = {}) =>
  db.trace.findMany({ where: sessionHistory(personId, sessionId, afterSeq, window), orderBy: { seq: 'asc' }, take: limit });

export const countSessionTraces = (db: Db, personId: string, sessionId: string, window: SessionWindow) =>
  db.trace.count({ where: sessionHistory(personId, sessionId, 0, window) });

/** The last update of a session at or before `at`. */
export const findSessionTraceAt = (db: Db, personId: string, sessionId: string, at: Date) =>
  db.trace.findFirst({
    where: { personId, sessionId, seq: { not: null }, timestamp: { lte: at } },
    orderBy: { seq: 'desc' },
  });

/** The update that came just before position `seq` in its session (the nearest one still stored). */
export const findTraceBefore = (db: Db | Tx, personId: string, sessionId: string, seq: number) =>
  db.trace.findFirst({ where: { personId, sessionId, seq: { lt: seq } }, orderBy: { seq: 'desc' } });

export const deleteTraceRow = (tx: Tx, id: string) => tx.trace.deleteMany({ where: { id } });

/** Deletes up to `limit` traces older than `cutoff` (oldest first); returns how many. */
export async function deleteTracesBefore(tx: Tx, cutoff: Date, limit: number): Promise<number> {
  const doomed = await tx.trace.findMany({ where: { timestamp: { lt: cutoff } }, orderBy: { timestamp: 'asc' }, select: { id: true }, take: limit });
  if (doomed.length === 0) return 0;
  const { count } = await tx.trace.deleteMany({ where: { id: { in: doomed.map((row) => row.id) } } });
  return count;
}
