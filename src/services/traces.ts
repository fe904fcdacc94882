import { canReadPerson, isAdmin, requireAdmin, requirePerson, requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import { deleteIdempotencyKeysBefore, findIdempotentResponse } from '../store/idempotency.js';
import { lockSession, refreshSessionAggregates } from '../store/sessions.js';
import { traceStatistics } from '../store/trace-stats.js';
import { countTraces, deleteTraceRow, deleteTracesBefore, findTrace, type TraceFilter, type TraceRow, type TraceView } from '../store/traces.js';
import type { ServiceDeps } from './deps.js';
import { writeOnce } from './idempotent-writes.js';
import { requireId, requireIntInRange } from './input-checks.js';
import { afterKey, pageSize, toPage, type Page, type PageArgs } from './pages.js';

const DAY_MS = 86_400_000;
const DELETE_BATCH = 5_000;
const MAX_EVENT_TYPES = 100;

export interface CleanupResult {
  deletedCount: number;
  cutoff: Date;
}

/** Reading, deleting and summarising traces, with person isolation on every path. */
export function createTraces({ database, config, now }: ServiceDeps) {
  const { db, read } = database;

  /** A trace the viewer may not see answers like a missing one, so ids cannot be probed. */
  async function getTrace(viewer: Viewer | null, id: string): Promise<TraceRow | null> {
    const v = requireViewer(viewer);
    const trace = await findTrace(read, id);
    return trace && canReadPerson(v, trace.personId) ? trace : null;
  }

  /** Newest first. Non-admins see their own traces only: naming another person is FORBIDDEN. */
  async function traces(viewer: Viewer | null, filter: TraceFilter, args: PageArgs): Promise<Page<TraceView>> {
    const v = filter.personId ? requirePerson(viewer, filter.personId) : requireViewer(viewer);
    if ((filter.eventTypes?.length ?? 0) > MAX_EVENT_TYPES) throw badInput(`eventTypes may list at most ${MAX_EVENT_TYPES} types`, 'eventTypes');
    const scoped = isAdmin(v) ? filter : { ...filter, personId: v.personId };
    const size = pageSize(args, config.limits.maxPageSize);
    const key = afterKey('traces', args, ['time', 'string']);
    const after = key ? { timestamp: new Date(key[0] as number), id: String(key[1]) } : null;
    const rows = await database.tracePages.list(scoped, size + 1, after);
    return toPage('traces', rows, size, args, (t) => [t.timestamp.getTime(), t.id], () => countTraces(read, scoped));
  }

  async function deleteTrace(viewer: Viewer | null, id: string, requestId?: string | null): Promise<{ deletedId: string }> {
    const v = requireViewer(viewer);
    const key = requestId ? { scope: `viewer:${v.personId}`, operation: 'deleteTrace', key: requireId(requestId, 'requestId') } : null;
    const { result } = await writeOnce(db, key, now, {
      write: async (tx) => {
        const trace = await findTrace(tx, id);
        if (!trace || !canReadPerson(v, trace.personId)) throw notFound(`Trace ${id}`);
        // The session's row lock keeps a concurrent update from slipping past the recount.
        const session = { personId: trace.personId, sessionId: trace.sessionId };
        await lockSession(tx, database.provider, session);
        await deleteTraceRow(tx, id);
        await refreshSessionAggregates(tx, session);
        return { deletedId: id };
      },
      toStored: (deleted) => deleted,
      fromStored: (deleted) => deleted,
    });
    return result;
  }

  /**
   * Removes every trace older than `daysToKeep` days (by event time) in batches, each its own short
   * transaction (a large backlog never holds the single SQLite writer for long), then recounts the sessions
   * touched and drops those left empty. Idempotency keys expire after RETENTION_DAYS, whatever `daysToKeep` is,
   * so a cleanup never re-opens retries that are still in flight.
   */
  async function removeOlderThan(daysToKeep: number): Promise<CleanupResult> {
    const cutoff = new Date(now().getTime() - daysToKeep * DAY_MS);
    let deletedCount = 0;
    for (;;) {
      const count = await db.$transaction((tx) => deleteTracesBefore(tx, cutoff, DELETE_BATCH));
      deletedCount += count;
      if (count < DELETE_BATCH) break;
    }
    await db.$transaction(async (tx) => {
      await refreshSessionAggregates(tx, { touchedBefore: cutoff });
      await deleteIdempotencyKeysBefore(tx, new Date(now().getTime() - config.retentionDays * DAY_MS));
    });
    return { deletedCount, cutoff };
  }

  /** The retention job's entry: no viewer, the configured RETENTION_DAYS. */
  const applyRetention = () => removeOlderThan(config.retentionDays);

  async function cleanupTraces(viewer: Viewer | null, daysToKeep: number, requestId?: string | null): Promise<CleanupResult> {
    const v = requireAdmin(viewer);
    requireIntInRange(daysToKeep, 'daysToKeep', 0, 36_500);
    const key = requestId ? { scope: `viewer:${v.personId}`, operation: 'cleanupTraces', key: requireId(requestId, 'requestId') } : null;
    const steps = {
      toStored: (r: CleanupResult) => ({ deletedCount: r.deletedCount, cutoff: r.cutoff.toISOString() }),
      fromStored: (r: { deletedCount: number; cutoff: string }) => ({ deletedCount: r.deletedCount, cutoff: new Date(r.cutoff) }),
    };
    const earlier = key ? await findIdempotentResponse<{ deletedCount: number; cutoff: string }>(read, key) : null;
    if (earlier) return steps.fromStored(earlier);
    // Deleting is idempotent by nature; the key only makes a retry report the first run's figures.
    const removed = await removeOlderThan(daysToKeep);
    const { result } = await writeOnce(db, key, now, { ...steps, write: async () => removed });
    return result;
  }

  async function traceStats(viewer: Viewer | null, recentDays: number, topPersons: number) {
    requireAdmin(viewer);
    requireIntInRange(recentDays, 'recentDays', 1, 366);
    requireIntInRange(topPersons, 'topPersons', 1, 1000);
    return traceStatistics(database, now(), recentDays, topPersons);
  }

  return { getTrace, traces, deleteTrace, cleanupTraces, applyRetention, traceStats };
}
