import { Prisma, type Project, type StreamEvent as StreamEventRow } from '../generated/prisma/sqlite/client.js';
import type { ProjectState } from '../domain/project-state.js';
import type { Sequence } from '../domain/sequences.js';
import type { BulkWriter, RowShape } from './bulk-insert.js';
import type { Database, Db, Tx } from './database.js';

export type { Project, StreamEventRow };

export interface NewStreamEvent {
  projectId: string;
  ms: number;
  n: number;
  eventType: string;
  dataKey: string | null;
  data: unknown;
  timestamp: Date;
}

/** Strictly after `s`, written so the (project_id, ms, n) index can seek to it (a bare OR would scan). */
const after = (s: Sequence): Prisma.StreamEventWhereInput => ({ ms: { gte: s.ms }, OR: [{ ms: { gt: s.ms } }, { n: { gt: s.n } }] });
/** At or before `s`, index-friendly likewise. */
const atOrBefore = (s: Sequence): Prisma.StreamEventWhereInput => ({ ms: { lte: s.ms }, OR: [{ ms: { lt: s.ms } }, { n: { lte: s.n } }] });

/** Events strictly after `from`, optionally up to and including `until`. */
const window = (projectId: string, from: Sequence, until: Sequence | null): Prisma.StreamEventWhereInput => ({
  projectId,
  AND: [after(from), ...(until ? [atOrBefore(until)] : [])],
});

/**
 * Takes the project's head for this write transaction, creating the project on its first event. On PostgreSQL
 * the row lock makes concurrent writers (in any gateway process) take sequences one after another, in commit order.
 */
export async function lockProject(tx: Tx, provider: Database['provider'], id: string, now: Date): Promise<Project> {
  await tx.$executeRaw`INSERT INTO projects (id, event_count, last_ms, last_n, since_snapshot, created_at)
    VALUES (${id}, 0, 0, 0, 0, ${now}) ON CONFLICT (id) DO NOTHING`;
  if (provider === 'postgresql') await tx.$queryRaw`SELECT 1 FROM projects WHERE id = ${id} FOR UPDATE`;
  return tx.project.findUniqueOrThrow({ where: { id } });
}

export const updateProjectHead = (tx: Tx, id: string, head: { added: number; last: Sequence; sinceSnapshot: number }) =>
  tx.project.update({
    where: { id },
    data: { eventCount: { increment: head.added }, lastMs: head.last.ms, lastN: head.last.n, sinceSnapshot: head.sinceSnapshot },
  });

const STREAM_EVENTS: RowShape = { table: 'stream_events', columns: ['project_id', 'ms', 'n', 'event_type', 'data_key', 'data', 'timestamp'], json: ['data'] };

/** The hot path of publishing and importing. */
export const insertStreamEvents = (bulk: BulkWriter, events: readonly NewStreamEvent[]) =>
  bulk.insert(STREAM_EVENTS, events, (e) => [e.projectId, e.ms, e.n, e.eventType, e.dataKey, e.data, e.timestamp]);

const LOOKUP_CHUNK = 200;

/**
 * Which of these sequences the project already holds. Only those at or before the head can exist (events are
 * appended in order), and only they are looked up, by their own (ms, n) keys, a chunk at a time: the cost follows
 * the batch, not the stretch of history between its first and last sequence, and stays under SQLite's
 * bound-parameter limit.
 */
export async function existingSequences(tx: Tx | Db, projectId: string, sequences: readonly Sequence[], head: Sequence | null): Promise<Set<string>> {
  const candidates = head ? sequences.filter((s) => s.ms < head.ms || (s.ms === head.ms && s.n <= head.n)) : [];
  const present = new Set<string>();
  for (let i = 0; i < candidates.length; i += LOOKUP_CHUNK) {
    const chunk = candidates.slice(i, i + LOOKUP_CHUNK);
    const rows = await tx.streamEvent.findMany({
      where: { projectId, OR: chunk.map((s) => ({ ms: s.ms, n: s.n })) },
      select: { ms: true, n: true },
    });
    for (const row of rows) present.add(`${row.ms}-${row.n}`);
  }
  return present;
}

export const findStreamEvent = (db: Db | Tx, projectId: string, s: Sequence) =>
  db.streamEvent.findUnique({ where: { projectId_ms_n: { projectId, ms: s.ms, n: s.n } } });

export const listStreamEvents = (db: Db, projectId: string, from: Sequence, until: Sequence | null, limit: number) =>
  db.streamEvent.findMany({ where: window(projectId, from, until), orderBy: [{ ms: 'asc' }, { n: 'asc' }], take: limit });

export const countStreamEvents = (db: Db, projectId: string, from: Sequence, until: Sequence | null) =>
  db.streamEvent.count({ where: window(projectId, from, until) });

/** The data_published events after `from` up to `until`, in order (at most one snapshot interval of them). */
export const listDataEvents = (db: Db, projectId: string, from: Sequence, until: Sequence) =>
  db.streamEvent.findMany({
    where: { ...window(projectId, from, until), dataKey: { not: null } },
    orderBy: [{ ms: 'asc' }, { n: 'asc' }],
  });

export const findProject = (db: Db, id: string) => db.project.findUnique({ where: { id } });

export function listProjects(db: Db, readable: '*' | readonly string[], limit: number, afterId: string | null) {
  return db.project.findMany({
    where: { id: { ...(readable === '*' ? {} : { in: [...readable] }), ...(afterId !== null ? { gt: afterId } : {}) } },
    orderBy: { id: 'asc' },
    take: limit,
  });
}

export const countProjects = (db: Db, readable: '*' | readonly string[]) =>
  db.project.count({ where: readable === '*' ? {} : { id: { in: [...readable] } } });

/** The latest value of every key, optionally only those published after `since`. */
export const listProjectData = (db: Db | Tx, projectId: string, since: Sequence | null = null) =>
  db.projectData.findMany({
    where: { projectId, ...(since ? (after(since) as Prisma.ProjectDataWhereInput) : {}) },
    orderBy: { dataKey: 'asc' },
  });

const PROJECT_DATA: RowShape = {
  table: 'project_data',
  columns: ['project_id', 'data_key', 'data', 'description', 'ms', 'n', 'updated_at'],
  json: ['data'],
  upsertOn: ['project_id', 'data_key'],
};

/** Each key's latest value (the keys are distinct within a call). */
export const upsertProjectData = (
  bulk: BulkWriter,
  projectId: string,
  items: readonly { dataKey: string; data: unknown; description: string | null; ms: number; n: number; updatedAt: Date }[],
) => bulk.insert(PROJECT_DATA, items, (item) => [projectId, item.dataKey, item.data, item.description, item.ms, item.n, item.updatedAt]);

export const insertSnapshot = (tx: Tx, projectId: string, at: Sequence, state: ProjectState) =>
  tx.projectSnapshot.create({ data: { projectId, ms: at.ms, n: at.n, state: state as unknown as Prisma.InputJsonValue } });

/** The newest snapshot taken at or before `at`. */
export const findSnapshotAtOrBefore = (db: Db, projectId: string, at: Sequence) =>
  db.projectSnapshot.findFirst({
    where: { projectId, ...(atOrBefore(at) as Prisma.ProjectSnapshotWhereInput) },
    orderBy: [{ ms: 'desc' }, { n: 'desc' }],
  });

export async function topKeys(db: Db, projectId: string, limit: number) {
  const rows = await db.streamEvent.groupBy({
    by: ['dataKey'],
    where: { projectId, dataKey: { not: null } },
    _count: { _all: true },
    orderBy: [{ _count: { dataKey: 'desc' } }, { dataKey: 'asc' }],
    take: limit,
  });
  return rows.map((row) => ({ dataKey: row.dataKey as string, count: row._count._all }));
}

/** The UTC hour of an event as `YYYY-MM-DDTHH`, in each provider's SQL. */
const hourOf: Record<Database['provider'], Prisma.Sql> = {
  sqlite: Prisma.sql`substr("timestamp", 1, 13)`,
  postgresql: Prisma.sql`to_char("timestamp", 'YYYY-MM-DD"T"HH24')`,
};

/** data_published counts per UTC hour in [from, to), grouped by the database. */
export async function updatesPerHour(db: Db, provider: Database['provider'], projectId: string, from: Date, to: Date) {
  const rows = await db.$queryRaw<{ hour: string; count: bigint | number }[]>`
    SELECT ${hourOf[provider]} AS hour, COUNT(*) AS count FROM stream_events
    WHERE project_id = ${projectId} AND data_key IS NOT NULL AND "timestamp" >= ${from} AND "timestamp" < ${to}
    GROUP BY 1`;
  return new Map(rows.map((row) => [row.hour, Number(row.count)]));
}
