import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CleanupTracesDocument,
  DeleteTraceDocument,
  ReplayTraceDocument,
  SessionDocument,
  SessionsDocument,
  TraceDocument,
  TracesDocument,
  TraceStatsDocument,
  UpdateContextDocument,
  type TraceFilter,
} from '../generated/graphql.js';
import { sseClient, wsClient } from '../support/clients.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Section 1 of the contract: reading, deleting, cleaning up and summarising traces. Every test owns its persons;
 * only the cleanup tests use timestamps older than a day (so their deletions touch no other test's data), and
 * the statistics tests compare before/after figures (so other tests' traces do not matter).
 */
describe('traces', () => {
  let gateway: TestGateway;
  let admin: string;
  let ingest: string;
  const startedAt = Date.now();

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'tr-admin', roles: ['admin'] });
    ingest = await gateway.token({ sub: 'tr-ingest', roles: ['ingest'] });
  });
  afterAll(() => gateway?.close());

  const tokenFor = (personId: string) => gateway.token({ sub: personId });
  const iso = (ms: number) => new Date(ms).toISOString();

  /** Records one update per timestamp, in order, for a person's session; returns the trace ids. */
  async function record(personId: string, sessionId: string, times: number[], eventType?: string | ((i: number) => string)): Promise<string[]> {
    const ids: string[] = [];
    for (const [i, at] of times.entries()) {
      const type = typeof eventType === 'function' ? eventType(i) : eventType;
      const result = await gateway.execute(
        UpdateContextDocument,
        { input: { personId, sessionId, timestamp: iso(at), eventType: type, sources: [{ source: 'test', data: { i, sessionId } }] } },
        ingest,
      );
      ids.push(dataOf(result).updateContext.trace.id);
    }
    return ids;
  }

  async function list(filter: TraceFilter | null, token: string, first?: number, after?: string) {
    return dataOf(await gateway.execute(TracesDocument, { filter, first, after }, token)).traces;
  }

  const idsOf = (page: { edges: { node: { id: string } }[] }) => page.edges.map((e) => e.node.id);

  /** Every page of a listing, following endCursor. */
  async function allPages(filter: TraceFilter, token: string, first: number) {
    const pages = [];
    let after: string | undefined;
    for (;;) {
      const page = await list(filter, token, first, after);
      pages.push(page);
      if (!page.pageInfo.hasNextPage) return pages;
      after = page.pageInfo.endCursor ?? undefined;
      if (pages.length > 20) throw new Error('pagination does not end');
    }
  }

  describe('trace(id)', () => {
    it('returns the own trace with every field, null for another person’s or an unknown id', async () => {
      const owner = 'tr-get-owner';
      const [id] = await record(owner, 's1', [startedAt - 2 * HOUR], 'visit');
      const ownerToken = await tokenFor(owner);
      const { trace } = dataOf(await gateway.execute(TraceDocument, { id: id! }, ownerToken));
      expect(trace).toMatchObject({
        id,
        personId: owner,
        sessionId: 's1',
        eventType: 'visit',
        timestamp: iso(startedAt - 2 * HOUR),
        contextSnapshot: { i: 0, sessionId: 's1' },
        replayOf: null,
        replayOfId: null,
        replays: [],
        session: { sessionId: 's1', traceCount: 1 },
      });
      expect(trace?.eventData.fusion.state).toEqual({ i: 0, sessionId: 's1' });

      const other = await gateway.execute(TraceDocument, { id: id! }, await tokenFor('tr-get-other'));
      expect(other.errors).toBeUndefined();
      expect(other.data?.trace).toBeNull();
      expect(dataOf(await gateway.execute(TraceDocument, { id: 'no-such-trace' }, ownerToken)).trace).toBeNull();
      expect(dataOf(await gateway.execute(TraceDocument, { id: id! }, admin)).trace?.id).toBe(id);
      expect(codesOf(await gateway.execute(TraceDocument, { id: id! }, null))).toEqual(['UNAUTHENTICATED']);
    });
  });

  describe('traces(filter)', () => {
    it('lists newest first and applies every filter, scoped to the viewer', async () => {
      const [p1, p2] = ['tr-filter-p1', 'tr-filter-p2'];
      const base = startedAt - 6 * HOUR;
      const window = { from: iso(base), to: iso(base + 10 * MINUTE) };
      const [a1, a2, a3] = await record(p1, 'sA', [base, base + MINUTE, base + 2 * MINUTE], (i) => ['view', 'click', 'view'][i]!);
      const [b1, b2] = await record(p1, 'sB', [base + 30_000, base + 90_000], (i) => ['click', 'scroll'][i]!);
      const [c1] = await record(p2, 'sA', [base + 45_000], 'view');
      const t1 = await tokenFor(p1);
      const t2 = await tokenFor(p2);

      const all = await list(null, t1);
      expect(idsOf(all)).toEqual([a3, b2, a2, b1, a1]);
      expect(all.totalCount).toBe(5);
      expect(all.nodes.map((n) => n.id)).toEqual(idsOf(all));
      expect(all.edges.every((e) => e.node.personId === p1)).toBe(true);
      expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false, startCursor: all.edges[0]?.cursor, endCursor: all.edges[4]?.cursor });

      expect(idsOf(await list({ personId: p1 }, t1))).toEqual([a3, b2, a2, b1, a1]);
      expect(idsOf(await list({ sessionId: 'sA' }, t1))).toEqual([a3, a2, a1]);
      expect(idsOf(await list({ personId: p1, sessionId: 'sB' }, t1))).toEqual([b2, b1]);
      expect(idsOf(await list({ eventTypes: ['view', 'scroll'] }, t1))).toEqual([a3, b2, a1]);
      expect(idsOf(await list({ eventTypes: ['click'], sessionId: 'sA' }, t1))).toEqual([a2]);
      // from and to are inclusive.
      const range = await list({ from: iso(base + 30_000), to: iso(base + 90_000) }, t1);
      expect(idsOf(range)).toEqual([b2, a2, b1]);
      expect(range.totalCount).toBe(3);
      expect(idsOf(await list({ from: iso(base + 60_001) }, t1))).toEqual([a3, b2]);
      expect(idsOf(await list({ to: iso(base + 29_999) }, t1))).toEqual([a1]);

      // replayed: true only replays, false only originals.
      const replay = dataOf(await gateway.execute(ReplayTraceDocument, { traceId: a2! }, t1)).replayTrace.replay!;
      expect(idsOf(await list({ replayed: true }, t1))).toEqual([replay.id]);
      const originals = await list({ replayed: false }, t1);
      expect(idsOf(originals)).toEqual([a3, b2, a2, b1, a1]);
      expect(originals.edges.every((e) => e.node.replayOfId === null)).toBe(true);
      const withReplay = await list(null, t1);
      expect(idsOf(withReplay)).toEqual([replay.id, a3, b2, a2, b1, a1]);
      expect(withReplay.edges[0]?.node.replayOfId).toBe(a2);
      expect(withReplay.totalCount).toBe(6);

      // A non-admin naming another person is refused; without personId sees only their own.
      expect(codesOf(await gateway.execute(TracesDocument, { filter: { personId: p2 } }, t1))).toEqual(['FORBIDDEN']);
      expect(idsOf(await list(null, t2))).toEqual([c1]);
      expect(idsOf(await list({ sessionId: 'sA' }, t2))).toEqual([c1]);

      // An admin sees everyone's.
      const everyone = await list(window, admin);
      expect(idsOf(everyone)).toEqual([a3, b2, a2, c1, b1, a1]);
      expect(everyone.totalCount).toBe(6);
      expect(idsOf(await list({ ...window, sessionId: 'sA' }, admin))).toEqual([a3, a2, c1, a1]);
      expect(idsOf(await list({ personId: p2 }, admin))).toEqual([c1]);

      expect(codesOf(await gateway.execute(TracesDocument, {}, null))).toEqual(['UNAUTHENTICATED']);
    });

    it('answers a page’s JSON (kept as stored text on its way out) as trace(id) does, over HTTP, SSE and graphql-ws', async () => {
      const person = 'tr-json-text';
      const awkward = [
        { text: 'quote " backslash \\ tab \t newline \n', unicode: 'é 日本 🎉 \u2028', nested: { list: [1, -0, 1e21, 0.1, true, null, []], empty: {} } },
        { i: 2, marker: '\\u0000 looks like one but is not', number: -12.5e-7 },
      ];
      const ids = [];
      for (const [i, data] of awkward.entries()) {
        const input = { personId: person, sessionId: 'json', timestamp: iso(startedAt - HOUR + i * MINUTE), sources: [{ source: 'test', data }] };
        ids.push(dataOf(await gateway.execute(UpdateContextDocument, { input }, ingest)).updateContext.trace.id);
      }
      const token = await tokenFor(person);
      const expected = [];
      for (const id of ids.reverse()) {
        const trace = dataOf(await gateway.execute(TraceDocument, { id }, token)).trace!;
        expected.push({ id, eventData: trace.eventData, contextSnapshot: trace.contextSnapshot });
      }
      const query = `query ($p: ID!) { traces(filter: { personId: $p }, first: 5) { nodes { id eventData contextSnapshot } } }`;
      const variables = { p: person };
      const once = <T,>(subscribe: (sink: { next: (value: T) => void; error: (error: unknown) => void; complete: () => void }) => unknown) =>
        new Promise<T>((resolve, reject) => {
          let last: T;
          subscribe({ next: (value) => (last = value), error: reject, complete: () => resolve(last) });
        });
      const ws = wsClient(gateway.url, token);
      const sse = sseClient(gateway.url, token);
      try {
        const answers = {
          http: await gateway.execute(query, variables, token),
          sse: await once<ExecutionResult>((sink) => sse.subscribe({ query, variables }, sink)),
          ws: await once<ExecutionResult>((sink) => ws.subscribe({ query, variables }, sink)),
        };
        for (const [transport, answer] of Object.entries(answers)) {
          expect((answer.data as { traces: { nodes: unknown[] } }).traces.nodes, transport).toEqual(expected);
        }
      } finally {
        sse.dispose();
        await ws.dispose();
      }
    });

    it('pages through with cursors: no duplicates, nothing missing, same totalCount on every page', async () => {
      const person = 'tr-pages';
      const t = startedAt - 5 * HOUR;
      // Equal timestamps within and across sessions, so the order's tie-break is exercised.
      await record(person, 's1', [t, t, t]);
      await record(person, 's2', [t, t + 1000, t + 1000, t + 2000]);
      const token = await tokenFor(person);
      const full = await list({ personId: person }, token, 50);
      expect(full.totalCount).toBe(7);
      const times = full.edges.map((e) => Date.parse(e.node.timestamp));
      expect(times).toEqual([...times].sort((a, b) => b - a));

      const pages = await allPages({ personId: person }, token, 3);
      expect(pages.map((p) => p.edges.length)).toEqual([3, 3, 1]);
      expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
      expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true]);
      for (const page of pages) {
        expect(page.totalCount).toBe(7);
        expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor);
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor);
      }
      const paged = pages.flatMap(idsOf);
      expect(new Set(paged).size).toBe(7);
      expect(paged).toEqual(idsOf(full));

      // Page size 1 walks the same order.
      expect((await allPages({ personId: person }, token, 1)).flatMap(idsOf)).toEqual(idsOf(full));

      // A page exactly as long as the rest says there is no next page; after the last one is an empty page.
      const exact = await list({ personId: person }, token, 7);
      expect(exact.pageInfo.hasNextPage).toBe(false);
      const beyond = await list({ personId: person }, token, 3, exact.pageInfo.endCursor!);
      expect(beyond.edges).toEqual([]);
      expect(beyond.pageInfo).toMatchObject({ hasNextPage: false, startCursor: null, endCursor: null });

      // first defaults to 50 and is capped; a larger or negative value is an error.
      expect(codesOf(await gateway.execute(TracesDocument, { first: 1001 }, token))).toEqual(['BAD_USER_INPUT']);
      expect(codesOf(await gateway.execute(TracesDocument, { first: -1 }, token))).toEqual(['BAD_USER_INPUT']);
      expect((await list({ personId: person }, token, 1000)).totalCount).toBe(7);
    });

    it('refuses a cursor that is not one of its own with BAD_USER_INPUT', async () => {
      const person = 'tr-bad-cursor';
      await record(person, 's1', [startedAt - 4 * HOUR]);
      const token = await tokenFor(person);
      const sessionsCursor = dataOf(await gateway.execute(SessionsDocument, { personId: person }, token)).sessions.pageInfo.endCursor!;
      const forged = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
      // Of the right list but not what it sorts by: refused as input, never a failing query.
      const wrongShape = [forged(['traces', 'only-one-part']), forged(['traces', 'not-a-time', 'id']), forged(['traces', 1e20, 'id']), forged(['traces', 1.5, 'id'])];
      for (const after of ['not-a-cursor', '', sessionsCursor, ...wrongShape, '%%%']) {
        expect(codesOf(await gateway.execute(TracesDocument, { after }, token)), after).toEqual(['BAD_USER_INPUT']);
      }
    });
  });

  describe('deleteTrace', () => {
    it('lets the owner delete, updates the session, and answers a retry with the same deletedId', async () => {
      const owner = 'tr-del-owner';
      const t = startedAt - 3 * HOUR;
      const [d1, d2, d3] = await record(owner, 's1', [t, t + 1000, t + 2000]);
      const token = await tokenFor(owner);

      const deleted = dataOf(await gateway.execute(DeleteTraceDocument, { id: d2!, requestId: 'del-1' }, token)).deleteTrace;
      expect(deleted).toEqual({ deletedId: d2 });
      expect(dataOf(await gateway.execute(TraceDocument, { id: d2! }, token)).trace).toBeNull();
      const session = dataOf(await gateway.execute(SessionDocument, { personId: owner, sessionId: 's1' }, token)).session;
      expect(session?.traceCount).toBe(2);
      expect(session?.traces.nodes.map((n) => n.id)).toEqual([d1, d3]);
      expect(session?.traces.totalCount).toBe(2);

      // The retry returns the first answer (not NOT_FOUND) and deletes nothing more.
      const retry = dataOf(await gateway.execute(DeleteTraceDocument, { id: d2!, requestId: 'del-1' }, token)).deleteTrace;
      expect(retry).toEqual({ deletedId: d2 });
      expect((await list({ personId: owner }, token)).totalCount).toBe(2);
      // Without the key, deleting it again is NOT_FOUND.
      expect(codesOf(await gateway.execute(DeleteTraceDocument, { id: d2! }, token))).toEqual(['NOT_FOUND']);
      expect(codesOf(await gateway.execute(DeleteTraceDocument, { id: 'no-such-trace' }, token))).toEqual(['NOT_FOUND']);
    });

    it('answers NOT_FOUND to another person and deletes nothing; an admin may delete anyone’s', async () => {
      const owner = 'tr-del-guarded';
      const [g1, g2] = await record(owner, 's1', [startedAt - 3 * HOUR, startedAt - 3 * HOUR + 1000]);
      const intruder = await tokenFor('tr-del-intruder');
      const refused = await gateway.execute(DeleteTraceDocument, { id: g1! }, intruder);
      expect(codesOf(refused)).toEqual(['NOT_FOUND']);
      // Same answer as for an id that does not exist: ids cannot be probed.
      expect(codesOf(await gateway.execute(DeleteTraceDocument, { id: 'missing' }, intruder))).toEqual(['NOT_FOUND']);
      expect(dataOf(await gateway.execute(TraceDocument, { id: g1! }, admin)).trace?.id).toBe(g1);
      expect(codesOf(await gateway.execute(DeleteTraceDocument, { id: g1! }, null))).toEqual(['UNAUTHENTICATED']);

      expect(dataOf(await gateway.execute(DeleteTraceDocument, { id: g1! }, admin)).deleteTrace).toEqual({ deletedId: g1 });
      const session = dataOf(await gateway.execute(SessionDocument, { personId: owner, sessionId: 's1' }, admin)).session;
      expect(session?.traceCount).toBe(1);
      expect(session?.traces.nodes.map((n) => n.id)).toEqual([g2]);
    });

    it('removes the session with its last trace', async () => {
      const owner = 'tr-del-last';
      const [only] = await record(owner, 'gone', [startedAt - 3 * HOUR]);
      await record(owner, 'stays', [startedAt - 3 * HOUR]);
      const token = await tokenFor(owner);
      expect(dataOf(await gateway.execute(SessionsDocument, { personId: owner }, token)).sessions.totalCount).toBe(2);
      dataOf(await gateway.execute(DeleteTraceDocument, { id: only! }, token));
      expect(dataOf(await gateway.execute(SessionDocument, { personId: owner, sessionId: 'gone' }, token)).session).toBeNull();
      const sessions = dataOf(await gateway.execute(SessionsDocument, { personId: owner }, token)).sessions;
      expect(sessions.totalCount).toBe(1);
      expect(sessions.nodes.map((s) => s.sessionId)).toEqual(['stays']);
    });
  });

  describe('cleanupTraces', () => {
    it('is for admins only', async () => {
      for (const token of [await tokenFor('tr-clean-person'), ingest]) {
        const result = await gateway.execute(CleanupTracesDocument, { daysToKeep: 30 }, token);
        expect(codesOf(result)).toEqual(['FORBIDDEN']);
      }
      expect(codesOf(await gateway.execute(CleanupTracesDocument, {}, null))).toEqual(['UNAUTHENTICATED']);
      expect(codesOf(await gateway.execute(CleanupTracesDocument, { daysToKeep: -1 }, admin))).toEqual(['BAD_USER_INPUT']);
    });

    it('deletes the traces older than daysToKeep days, reports deletedCount and cutoff, and is idempotent by requestId', async () => {
      const person = 'tr-clean';
      const now = Date.now();
      // Timestamps only move forward within a session, so old and recent traces live in separate sessions
      // (and one session runs from old to recent).
      const old = await record(person, 'old', [now - 40 * DAY, now - 40 * DAY + 1000, now - 39 * DAY]);
      const middle = await record(person, 'middle', [now - 20 * DAY]);
      const recent = await record(person, 'recent', [now - 2 * HOUR, now - HOUR]);
      const [mixedOld, mixedNew] = await record(person, 'mixed', [now - 35 * DAY, now - 2 * HOUR]);
      const token = await tokenFor(person);

      const before = Date.now();
      const first = dataOf(await gateway.execute(CleanupTracesDocument, { requestId: 'clean-1' }, admin)).cleanupTraces;
      const after = Date.now();
      // daysToKeep defaults to 30: the three traces of 'old' and the old one of 'mixed'.
      expect(first.deletedCount).toBe(4);
      const cutoff = Date.parse(first.cutoff);
      expect(cutoff).toBeGreaterThanOrEqual(before - 30 * DAY - 1);
      expect(cutoff).toBeLessThanOrEqual(after - 30 * DAY + 1);

      const remaining = await list({ personId: person }, token);
      expect(new Set(idsOf(remaining))).toEqual(new Set([...middle, ...recent, mixedNew]));
      for (const id of [...old, mixedOld]) expect(dataOf(await gateway.execute(TraceDocument, { id: id! }, admin)).trace).toBeNull();
      const session = (sessionId: string) => gateway.execute(SessionDocument, { personId: person, sessionId }, token).then((r) => dataOf(r).session);
      expect(await session('old')).toBeNull();
      expect(await session('recent')).toMatchObject({ traceCount: 2 });
      const mixed = await session('mixed');
      expect(mixed?.traceCount).toBe(1);
      expect(mixed?.firstAt).toBe(iso(now - 2 * HOUR));
      expect(mixed?.traces.nodes.map((n) => n.id)).toEqual([mixedNew]);

      // The retry returns the first answer and writes nothing, even though there is now more to delete.
      const [late] = await record(person, 'late-old', [now - 50 * DAY]);
      const retry = dataOf(await gateway.execute(CleanupTracesDocument, { requestId: 'clean-1' }, admin)).cleanupTraces;
      expect(retry).toEqual(first);
      expect(dataOf(await gateway.execute(TraceDocument, { id: late! }, admin)).trace?.id).toBe(late);

      // A smaller daysToKeep reaches further; a new key is a new cleanup.
      const ten = dataOf(await gateway.execute(CleanupTracesDocument, { daysToKeep: 10, requestId: 'clean-2' }, admin)).cleanupTraces;
      expect(ten.deletedCount).toBe(2);
      expect(Math.abs(Date.parse(ten.cutoff) - (Date.now() - 10 * DAY))).toBeLessThan(60_000);
      expect(await session('middle')).toBeNull();
      expect(await session('late-old')).toBeNull();
      expect(new Set(idsOf(await list({ personId: person }, token)))).toEqual(new Set([...recent, mixedNew]));

      // Nothing left to delete.
      expect(dataOf(await gateway.execute(CleanupTracesDocument, { daysToKeep: 10 }, admin)).cleanupTraces.deletedCount).toBe(0);
    });
  });

  describe('traceStats', () => {
    it('is for admins only and bounds its arguments', async () => {
      for (const token of [await tokenFor('tr-stats-person'), ingest]) {
        expect(codesOf(await gateway.execute(TraceStatsDocument, {}, token))).toEqual(['FORBIDDEN']);
      }
      expect(codesOf(await gateway.execute(TraceStatsDocument, {}, null))).toEqual(['UNAUTHENTICATED']);
      for (const recentDays of [0, -1, 367, 100_000]) {
        expect(codesOf(await gateway.execute(TraceStatsDocument, { recentDays }, admin)), String(recentDays)).toEqual(['BAD_USER_INPUT']);
      }
      expect(codesOf(await gateway.execute(TraceStatsDocument, { topPersons: 0 }, admin))).toEqual(['BAD_USER_INPUT']);
      expect(dataOf(await gateway.execute(TraceStatsDocument, { recentDays: 1 }, admin)).traceStats.recentActivity).toHaveLength(1);
      expect(dataOf(await gateway.execute(TraceStatsDocument, {}, admin)).traceStats.recentActivity).toHaveLength(7);
      expect(dataOf(await gateway.execute(TraceStatsDocument, { recentDays: null }, admin)).traceStats.recentActivity).toHaveLength(7);
      expect(dataOf(await gateway.execute(TraceStatsDocument, { recentDays: 366 }, admin)).traceStats.recentActivity).toHaveLength(366);
    });

    it('counts totals, replays, persons, event types and daily activity', async () => {
      const stats = async (vars: { recentDays?: number; topPersons?: number } = {}) =>
        dataOf(await gateway.execute(TraceStatsDocument, vars, admin)).traceStats;
      const before = await stats({ topPersons: 1000 });

      const now = Date.now();
      const today = new Date(now);
      const noonDaysAgo = (n: number) => Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - n, 12);
      // Three persons with clearly more traces than any other person in this file: 12, 11 and 10.
      const [heavy, middle, light] = ['tr-stats-heavy', 'tr-stats-middle', 'tr-stats-light'];
      const heavyIds = await record(heavy, 's1', [...Array.from({ length: 10 }, (_, i) => now - HOUR + i * 1000)], 'tr-stats-alpha');
      await record(heavy, 'days', [noonDaysAgo(5), noonDaysAgo(3)], 'tr-stats-beta');
      await record(middle, 's1', Array.from({ length: 10 }, (_, i) => now - HOUR + i * 1000), (i) => (i < 4 ? 'tr-stats-beta' : 'tr-stats-gamma'));
      await record(middle, 'days', [noonDaysAgo(3)], 'tr-stats-gamma');
      await record(light, 's1', Array.from({ length: 10 }, (_, i) => now - HOUR + i * 1000), 'tr-stats-gamma');
      // One replay: a new trace of the same person and event type.
      dataOf(await gateway.execute(ReplayTraceDocument, { traceId: heavyIds[0]! }, admin));

      const after = await stats({ topPersons: 1000, recentDays: 7 });
      expect(after.totalTraces - before.totalTraces).toBe(34);
      expect(after.replayedCount - before.replayedCount).toBe(1);
      expect(after.originalCount - before.originalCount).toBe(33);
      expect(after.originalCount + after.replayedCount).toBe(after.totalTraces);
      expect(Math.abs(Date.parse(after.statsTimestamp) - Date.now())).toBeLessThan(60_000);

      // Most first; ours lead with their exact counts (the replay counts for its person).
      const counts = after.topPersons.map((p) => p.traceCount);
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
      expect(after.topPersons.slice(0, 3)).toEqual([
        { personId: heavy, traceCount: 13 },
        { personId: middle, traceCount: 11 },
        { personId: light, traceCount: 10 },
      ]);
      const limited = await stats({ topPersons: 2 });
      expect(limited.topPersons).toEqual(after.topPersons.slice(0, 2));

      const typeCount = (name: string) => after.eventTypes.find((e) => e.eventType === name)?.count;
      expect(typeCount('tr-stats-alpha')).toBe(11);
      expect(typeCount('tr-stats-beta')).toBe(6);
      expect(typeCount('tr-stats-gamma')).toBe(17);
      expect(after.eventTypes.reduce((sum, e) => sum + e.count, 0)).toBe(after.totalTraces);
      expect(new Set(after.eventTypes.map((e) => e.eventType)).size).toBe(after.eventTypes.length);

      // One row per day, oldest first, ending today (UTC), zeros included.
      const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const statsDay = Date.parse(after.statsTimestamp);
      expect(after.recentActivity.map((d) => d.date)).toEqual(Array.from({ length: 7 }, (_, i) => dayOf(statsDay - (6 - i) * DAY)));
      const activity = new Map(after.recentActivity.map((d) => [d.date, d.traceCount]));
      const previously = new Map(before.recentActivity.map((d) => [d.date, d.traceCount]));
      const delta = (n: number) => (activity.get(dayOf(noonDaysAgo(n))) ?? NaN) - (previously.get(dayOf(noonDaysAgo(n))) ?? 0);
      expect(delta(3)).toBe(2);
      expect(delta(5)).toBe(1);
      // No test in this file writes 4 or 6 days back.
      expect(activity.get(dayOf(noonDaysAgo(4)))).toBe(0);
      expect(activity.get(dayOf(noonDaysAgo(6)))).toBe(0);
      // Today and yesterday together hold the 30 recent traces and the replay.
      expect(delta(0) + delta(1)).toBe(31);
      expect(after.recentActivity.reduce((sum, d) => sum + d.traceCount, 0)).toBeLessThanOrEqual(after.totalTraces);
    });
  });
});
