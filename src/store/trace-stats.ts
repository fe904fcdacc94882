import { Prisma } from '../generated/prisma/sqlite/client.js';
import type { Database } from './database.js';

const DAY_MS = 86_400_000;

/** The UTC calendar day of a trace, as `YYYY-MM-DD`, in each provider's SQL. */
const dayOf: Record<Database['provider'], Prisma.Sql> = {
  // SQLite keeps DateTime as ISO-8601 text in UTC, so the day is its first ten characters.
  sqlite: Prisma.sql`substr("timestamp", 1, 10)`,
  postgresql: Prisma.sql`to_char("timestamp", 'YYYY-MM-DD')`,
};

/** Every figure is computed by the database (counts and groupings), never by scanning rows in JS. */
export async function traceStatistics({ read: db, provider }: Database, now: Date, recentDays: number, topPersons: number) {
  const firstDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (recentDays - 1) * DAY_MS);
  const [totalTraces, replayedCount, persons, eventTypes, days] = await Promise.all([
    db.trace.count(),
    db.trace.count({ where: { replayOfId: { not: null } } }),
    db.trace.groupBy({ by: ['personId'], _count: { _all: true }, orderBy: [{ _count: { personId: 'desc' } }, { personId: 'asc' }], take: topPersons }),
    db.trace.groupBy({ by: ['eventType'], _count: { _all: true }, orderBy: [{ _count: { eventType: 'desc' } }, { eventType: 'asc' }] }),
    db.$queryRaw<{ day: string; count: bigint | number }[]>`
      SELECT ${dayOf[provider]} AS day, COUNT(*) AS count FROM traces
      WHERE "timestamp" >= ${firstDay} GROUP BY 1`,
  ]);
  const perDay = new Map(days.map((row) => [row.day, Number(row.count)]));
  return {
    totalTraces,
    originalCount: totalTraces - replayedCount,
    replayedCount,
    topPersons: persons.map((p) => ({ personId: p.personId, traceCount: p._count._all })),
    eventTypes: eventTypes.map((e) => ({ eventType: e.eventType, count: e._count._all })),
    recentActivity: Array.from({ length: recentDays }, (_, i) => {
      const date = new Date(firstDay.getTime() + i * DAY_MS).toISOString().slice(0, 10);
      return { date, traceCount: perDay.get(date) ?? 0 };
    }),
    statsTimestamp: now,
  };
}
