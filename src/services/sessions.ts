import { requirePerson } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import type { JsonObject } from '../domain/json.js';
import { countSessions, findSessions, listSessions, type SessionRow } from '../store/sessions.js';
import { findSessionTraceAt, listSessionTraces, type TraceRow } from '../store/traces.js';
import type { ServiceDeps } from './deps.js';
import { afterKey, pageSize, toPage, type Page, type PageArgs } from './pages.js';

/** Sessions and their history, read only by their person (or an admin). */
export function createSessions({ database, config }: ServiceDeps) {
  const { read } = database;

  async function session(viewer: Viewer | null, personId: string, sessionId: string): Promise<SessionRow | null> {
    requirePerson(viewer, personId);
    const [row] = await findSessions(read, [{ personId, sessionId }]);
    return row ?? null;
  }

  /** Most recently active first. */
  async function sessions(viewer: Viewer | null, personId: string, args: PageArgs): Promise<Page<SessionRow>> {
    requirePerson(viewer, personId);
    const size = pageSize(args, config.limits.maxPageSize);
    const key = afterKey('sessions', args, ['time', 'string']);
    const after = key ? { lastAt: new Date(key[0] as number), sessionId: String(key[1]) } : null;
    const rows = await listSessions(read, personId, size + 1, after);
    return toPage('sessions', rows, size, args, (s) => [s.lastAt.getTime(), s.sessionId], () => countSessions(read, personId));
  }

  /** The session's own updates (replays excluded), oldest first. */
  async function sessionTraces(viewer: Viewer | null, owner: SessionRow, args: PageArgs): Promise<Page<TraceRow>> {
    requirePerson(viewer, owner.personId);
    const size = pageSize(args, config.limits.maxPageSize);
    const key = afterKey('session-traces', args, ['seq']);
    const rows = await listSessionTraces(read, owner.personId, owner.sessionId, size + 1, Number(key?.[0] ?? 0));
    return toPage('session-traces', rows, size, args, (t) => [t.seq ?? 0], async () => owner.traceCount);
  }

  /** The session's fused context as it was at `at`: null before its first update or for an unknown session. */
  async function contextAt(viewer: Viewer | null, personId: string, sessionId: string, at: Date): Promise<JsonObject | null> {
    requirePerson(viewer, personId);
    const trace = await findSessionTraceAt(read, personId, sessionId, at);
    return (trace?.contextAfter as JsonObject | null | undefined) ?? null;
  }

  return { session, sessions, sessionTraces, contextAt };
}
