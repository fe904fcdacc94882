import { canReadPerson, isAdmin, requireAdmin, requirePerson, requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { notFound } from '../errors.js';
import { deleteIdempotencyKeysBefore } from '../store/idempotency.js';
import type { Tx } from '../store/database.js';
import { refreshSessionAggregates } from '../store/sessions.js';
import { traceStatistics } from '../store/trace-stats.js';
import { countTraces, deleteTraceRow, deleteTracesBefore, findTrace, listTraces, type TraceFilter, type TraceRow } from '../store/traces.js';
import type { ServiceDeps } from './deps.js';
import { writeOnce } from './idempotent-writes.js';
import { requireId, requireIntInRange } from './input-checks.js';
import { afterKey, pageSize, toPage, type Page, type PageArgs } from './pages.js';

const DAY_MS = 86_400_000;

export interface CleanupResult {
  deletedCount: number;
  cutoff: Date;
}

/** Reading, deleting and summarising traces, with person isolation on every path. */
export function createTraces({ database, config, now }: ServiceDeps) {
  const { db } = database;

  /** A trace the viewer may not see answers like a missing one, so ids cannot be probed. */
  async function getTrace(viewer: Viewer | null, id: string): Promise<TraceRow | null> {
    const v = requireViewer(viewer);
    const trace = await findTrace(db, id);
    return trace && canReadPerson(v, trace.personId) ? trace : null;
  }

  /** Newest first. Non-admins see their own traces only: naming another person is FORBIDDEN. */
  async function traces(viewer: Viewer | null, filter: TraceFilter, args: PageArgs): Promise<Page<TraceRow>> {
    const v = filter.personId ? requirePerson(viewer, filter.personId) : requireViewer(viewer);
    const scoped = isAdmin(v) ? filter : { ...filter, personId: v.personId };
    const size = pageSize(args, config.limits.maxPageSize);
    const key = afterKey('traces', args, ['time', 'string']);
    const after = key ? { timestamp: new Date(key[0] as number), id: String(key[1]) } : null;
    const rows = size === 0 ? [] : await listTraces(db, scoped, size + 1, after);
    return toPage('traces', rows, size, args, (t) => [t.timestamp.getTime(), t.id], () => countTraces(db, scoped));
  }

  async function deleteTrace(viewer: Viewer | null, id: string, requestId?: string | null): Promise<{ deletedId: string }> {
    const v = requireViewer(viewer);
    const key = requestId ? { scope: `viewer:${v.personId}`, operation: 'deleteTrace', key: requireId(requestId, 'requestId') } : null;
    const { result } = await writeOnce(db, key, now, {
      write: async (tx) => {
        const trace = await findTrace(tx, id);
        if (!trace || !canReadPerson(v, trace.personId)) throw notFound(`Trace ${id}`);
        await deleteTraceRow(tx, id);
        await refreshSessionAggregates(tx, { personId: trace.personId, sessionId: trace.sessionId });
        return { deletedId: id };
      },
      toStored: (deleted) => deleted,
      fromStored: (deleted) => deleted,
    });
    return result;
  }

  /** Removes every trace older than `daysToKeep` days (by event time), and the sessions left empty. */
  async function removeOlderThan(tx: Tx, daysToKeep: number): Promise<CleanupResult> {
    const cutoff = new Date(now().getTime() - daysToKeep * DAY_MS);
    const { count } = await deleteTracesBefore(tx, cutoff);
    await refreshSessionAggregates(tx, { touchedBefore: cutoff });
    await deleteIdempotencyKeysBefore(tx, cutoff);
    return { deletedCount: count, cutoff };
  }

  /** The retention job's entry: no viewer, the configured RETENTION_DAYS. */
  const applyRetention = () => db.$transaction((tx) => removeOlderThan(tx, config.retentionDays));

  async function cleanupTraces(viewer: Viewer | null, daysToKeep: number, requestId?: string | null): Promise<CleanupResult> {
    const v = requireAdmin(viewer);
    requireIntInRange(daysToKeep, 'daysToKeep', 0, 36_500);
    const key = requestId ? { scope: `viewer:${v.personId}`, operation: 'cleanupTraces', key: requireId(requestId, 'requestId') } : null;
    const { result } = await writeOnce(db, key, now, {
      write: (tx) => removeOlderThan(tx, daysToKeep),
      toStored: (r) => ({ deletedCount: r.deletedCount, cutoff: r.cutoff.toISOString() }),
      fromStored: (r) => ({ deletedCount: r.deletedCount, cutoff: new Date(r.cutoff) }),
    });
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
