import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContextAtDocument,
  DeleteTraceDocument,
  ReplayTraceDocument,
  SessionDocument,
  TraceDocument,
  TracesDocument,
  UpdateContextDocument,
  type ContextSourceInput,
  type ReplayTraceMutationVariables,
} from '../generated/graphql.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const MINUTE = 60_000;

/** Section 1 of the contract: replayTrace re-fuses a stored update and records the replay, never touching the original. */
describe('replayTrace', () => {
  let gateway: TestGateway;
  let admin: string;
  const startedAt = Date.now();

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'rp-admin', roles: ['admin'] });
  });
  afterAll(() => gateway?.close());

  const tokenFor = (personId: string) => gateway.token({ sub: personId });
  const iso = (ms: number) => new Date(ms).toISOString();

  async function update(token: string, personId: string, sessionId: string, at: number, sources: ContextSourceInput[], extra: { eventType?: string; storeSnapshot?: boolean } = {}) {
    return dataOf(await gateway.execute(UpdateContextDocument, { input: { personId, sessionId, timestamp: iso(at), sources, ...extra } }, token)).updateContext;
  }

  const replay = (vars: ReplayTraceMutationVariables, token: string | null) => gateway.execute(ReplayTraceDocument, vars, token);
  const replayed = async (vars: ReplayTraceMutationVariables, token: string) => dataOf(await replay(vars, token)).replayTrace;
  const traceById = async (id: string, token: string) => dataOf(await gateway.execute(TraceDocument, { id }, token)).trace;

  /** The stored row itself, read straight from the database the gateway writes. */
  async function rawTrace(id: string): Promise<Record<string, unknown> | undefined> {
    const store = gateway.config.store;
    if (store.provider === 'sqlite') {
      const db = new BetterSqlite3(store.filename, { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT * FROM traces WHERE id = ?').get(id) as Record<string, unknown> | undefined;
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    try {
      return (await client.query('SELECT * FROM traces WHERE id = $1', [id])).rows[0] as Record<string, unknown> | undefined;
    } finally {
      await client.end();
    }
  }

  /** A session of three updates; the second one is the one the tests replay. */
  async function threeUpdates(personId: string, token: string, eventType = 'context_update') {
    const t = startedAt - 30 * MINUTE;
    const first = await update(token, personId, 's1', t, [{ source: 'gps', data: { place: 'home', speed: 0 }, confidence: 0.7 }]);
    const second = await update(
      token,
      personId,
      's1',
      t + MINUTE,
      [
        { source: 'gps', data: { place: 'street', speed: 5 }, confidence: 0.6, observedAt: iso(t + 50_000) },
        { source: 'wifi', data: { place: 'cafe' }, confidence: 0.9 },
        { source: 'watch', data: { speed: 6 }, confidence: 0.6, observedAt: iso(t + 55_000) },
      ],
      { eventType },
    );
    const third = await update(token, personId, 's1', t + 2 * MINUTE, [{ source: 'gps', data: { place: 'office' } }]);
    return { first, second, third };
  }

  it('re-fuses on the state before the trace: matches, records the replay, leaves the original untouched', async () => {
    const person = 'rp-match';
    const token = await tokenFor(person);
    const { second } = await threeUpdates(person, token, 'movement');
    const original = second.trace;
    expect(original.contextSnapshot).toEqual({ place: 'cafe', speed: 6 });

    const apiBefore = await traceById(original.id, token);
    const rowBefore = await rawTrace(original.id);
    expect(rowBefore).toBeDefined();
    const sessionBefore = dataOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1' }, token)).session;

    const requestedFrom = Date.now();
    const result = await replayed({ traceId: original.id }, token);
    const requestedTo = Date.now();

    // The trace is the original, as stored.
    const { session: _session, ...originalFields } = original;
    expect(result.trace).toEqual(originalFields);

    expect(result.metadata.includeContext).toBe(true);
    expect(result.metadata.timeScale).toBe(1);
    expect(result.metadata.originalEventType).toBe('movement');
    expect(result.metadata.replayAvailable).toBe(true);
    const requestedAt = Date.parse(result.metadata.requestedAt);
    expect(requestedAt).toBeGreaterThanOrEqual(requestedFrom - 1);
    expect(requestedAt).toBeLessThanOrEqual(requestedTo + 1);

    expect(result.result).not.toBeNull();
    const outcome = result.result!;
    expect(outcome.matchesOriginal).toBe(true);
    expect(outcome.diff).toEqual([]);
    expect(outcome.contextState).toEqual({ place: 'cafe', speed: 6 });
    expect(outcome.isReplay).toBe(true);
    expect(outcome.originalTimestamp).toBe(original.timestamp);
    const fusedAt = Date.parse(outcome.fusionTimestamp);
    expect(fusedAt).toBeGreaterThanOrEqual(requestedFrom - 1);
    expect(fusedAt).toBeLessThanOrEqual(requestedTo + 1);

    // The replay is a new trace pointing at the original.
    const lineage = result.replay!;
    expect(lineage.id).not.toBe(original.id);
    expect(lineage).toMatchObject({
      personId: person,
      sessionId: 's1',
      eventType: 'movement',
      replayOfId: original.id,
      replayOf: { id: original.id },
      replaySource: 'api',
      replayedBy: person,
      contextSnapshot: { place: 'cafe', speed: 6 },
    });
    expect(lineage.eventData.sources).toEqual(original.eventData.sources);
    expect(lineage.eventData.fusion.state).toEqual(original.eventData.fusion.state);
    expect(lineage.eventData.fusion.provenance).toEqual({ place: 'wifi', speed: 'watch' });
    expect(lineage.eventData.fusion.algorithm).toBe(original.eventData.fusion.algorithm);

    // The original: byte-identical over the API (apart from its list of replays) and in the database.
    const apiAfter = await traceById(original.id, token);
    const { replays: replaysBefore, ...restBefore } = apiBefore!;
    const { replays: replaysAfter, ...restAfter } = apiAfter!;
    expect(JSON.stringify(restAfter)).toBe(JSON.stringify(restBefore));
    expect(replaysBefore).toEqual([]);
    expect(replaysAfter).toEqual([{ id: lineage.id, replaySource: 'api', replayedBy: person }]);
    expect(await rawTrace(original.id)).toEqual(rowBefore);

    // Not part of the session's history: same traces, same count, same context, same time travel.
    const sessionAfter = dataOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1' }, token)).session;
    expect(sessionAfter).toEqual(sessionBefore);
    expect(sessionAfter?.traceCount).toBe(3);
    expect(sessionAfter?.traces.nodes.map((n) => n.id)).not.toContain(lineage.id);
    const at = dataOf(await gateway.execute(ContextAtDocument, { personId: person, sessionId: 's1', at: iso(Date.now()) }, token)).contextAt;
    expect(at).toEqual({ place: 'office', speed: 6 });

    // The replay itself can be read, and lists as a replay.
    expect((await traceById(lineage.id, token))?.replayOf).toEqual({ id: original.id });
    const replays = dataOf(await gateway.execute(TracesDocument, { filter: { personId: person, replayed: true } }, token)).traces;
    expect(replays.nodes.map((n) => n.id)).toEqual([lineage.id]);
  });

  it('keeps the replaySource and timeScale it was asked with; includeContext false records the replay with no result', async () => {
    const person = 'rp-options';
    const token = await tokenFor(person);
    const { first } = await threeUpdates(person, token);

    const scaled = await replayed({ traceId: first.trace.id, timeScale: 2.5, replaySource: 'dashboard' }, token);
    expect(scaled.metadata.timeScale).toBe(2.5);
    expect(scaled.replay?.replaySource).toBe('dashboard');
    expect(scaled.result?.matchesOriginal).toBe(true);

    const bare = await replayed({ traceId: first.trace.id, includeContext: false }, token);
    expect(bare.result).toBeNull();
    expect(bare.metadata).toMatchObject({ includeContext: false, replayAvailable: true, originalEventType: 'context_update', timeScale: 1 });
    expect(bare.replay).toMatchObject({ replayOfId: first.trace.id, contextSnapshot: null });
    expect(bare.trace.id).toBe(first.trace.id);

    // The arguments are nullable with defaults, as the contract types them: null means the default.
    const defaults = await replayed({ traceId: first.trace.id, includeContext: null, timeScale: null }, token);
    expect(defaults.metadata).toMatchObject({ includeContext: true, timeScale: 1 });
    expect(defaults.result?.matchesOriginal).toBe(true);

    const replays = (await traceById(first.trace.id, token))!.replays;
    expect(replays.map((r) => r.id)).toEqual([scaled.replay!.id, bare.replay!.id, defaults.replay!.id]);
    expect(replays.map((r) => r.replaySource)).toEqual(['dashboard', 'api', 'api']);
  });

  it('refuses a timeScale of 0 or less with BAD_USER_INPUT and records nothing', async () => {
    const person = 'rp-timescale';
    const token = await tokenFor(person);
    const { first } = await threeUpdates(person, token);
    for (const timeScale of [0, -1, -0.001]) {
      const result = await replay({ traceId: first.trace.id, timeScale }, token);
      expect(codesOf(result), String(timeScale)).toEqual(['BAD_USER_INPUT']);
    }
    expect((await traceById(first.trace.id, token))!.replays).toEqual([]);
  });

  it('does not replay a replay: replayAvailable false, result null, nothing written', async () => {
    const person = 'rp-of-replay';
    const token = await tokenFor(person);
    const { second } = await threeUpdates(person, token, 'ping');
    const lineage = (await replayed({ traceId: second.trace.id }, token)).replay!;

    const again = await replayed({ traceId: lineage.id }, token);
    expect(again.metadata).toMatchObject({ replayAvailable: false, originalEventType: 'ping' });
    expect(again.result).toBeNull();
    expect(again.replay).toBeNull();
    expect(again.trace.id).toBe(lineage.id);
    expect((await traceById(lineage.id, token))!.replays).toEqual([]);
    const replays = dataOf(await gateway.execute(TracesDocument, { filter: { personId: person, replayed: true } }, token)).traces;
    expect(replays.totalCount).toBe(1);
  });

  it('answers NOT_FOUND for another person’s trace or an unknown id; an admin may replay anyone’s', async () => {
    const owner = 'rp-owner';
    const { second } = await threeUpdates(owner, await tokenFor(owner));
    const intruder = await tokenFor('rp-intruder');
    expect(codesOf(await replay({ traceId: second.trace.id }, intruder))).toEqual(['NOT_FOUND']);
    expect(codesOf(await replay({ traceId: 'no-such-trace' }, intruder))).toEqual(['NOT_FOUND']);
    expect(codesOf(await replay({ traceId: second.trace.id }, null))).toEqual(['UNAUTHENTICATED']);
    expect((await traceById(second.trace.id, admin))!.replays).toEqual([]);

    const byAdmin = await replayed({ traceId: second.trace.id, replaySource: 'support' }, admin);
    expect(byAdmin.replay).toMatchObject({ personId: owner, replayedBy: 'rp-admin', replaySource: 'support' });
    expect(byAdmin.result?.matchesOriginal).toBe(true);
  });

  it('answers a retry with the same requestId with the first replay and writes one row', async () => {
    const person = 'rp-idempotent';
    const token = await tokenFor(person);
    const { second } = await threeUpdates(person, token);
    const first = await replayed({ traceId: second.trace.id, requestId: 'replay-1', timeScale: 3 }, token);
    const retries = await Promise.all([1, 2, 3].map(() => replayed({ traceId: second.trace.id, requestId: 'replay-1', timeScale: 3 }, token)));
    for (const retry of retries) {
      expect(retry.replay?.id).toBe(first.replay?.id);
      expect(retry.metadata).toEqual(first.metadata);
      expect(retry.result).toEqual(first.result);
    }
    expect((await traceById(second.trace.id, token))!.replays.map((r) => r.id)).toEqual([first.replay!.id]);
    expect(dataOf(await gateway.execute(TracesDocument, { filter: { personId: person, replayed: true } }, token)).traces.totalCount).toBe(1);

    // Another key is another replay.
    const other = await replayed({ traceId: second.trace.id, requestId: 'replay-2' }, token);
    expect(other.replay?.id).not.toBe(first.replay?.id);
    expect((await traceById(second.trace.id, token))!.replays).toHaveLength(2);

    // The same key for another trace is a conflict, not the first trace's outcome mixed with this one, and writes nothing.
    const third = dataOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1' }, token)).session!.traces.nodes[2]!;
    expect(codesOf(await replay({ traceId: third.id, requestId: 'replay-1' }, token))).toEqual(['CONFLICT']);
    expect((await traceById(third.id, token))!.replays).toEqual([]);
  });

  it('reports what differs when the state before the trace changed', async () => {
    const person = 'rp-diff';
    const token = await tokenFor(person);
    const t = startedAt - 20 * MINUTE;
    const first = await update(token, person, 's1', t, [{ source: 'a', data: { home: 'berlin', mood: 'ok', tags: ['x', 'y'] } }]);
    const second = await update(token, person, 's1', t + MINUTE, [{ source: 'b', data: { mood: 'good', steps: 10 } }]);
    expect(second.trace.contextSnapshot).toEqual({ home: 'berlin', mood: 'good', tags: ['x', 'y'], steps: 10 });
    expect((await replayed({ traceId: second.trace.id }, token)).result?.matchesOriginal).toBe(true);

    // Without the first update, the state before the second is empty: its keys are missing from the replay.
    dataOf(await gateway.execute(DeleteTraceDocument, { id: first.trace.id }, token));
    const rowBefore = await rawTrace(second.trace.id);
    const result = await replayed({ traceId: second.trace.id }, token);
    expect(result.result?.matchesOriginal).toBe(false);
    expect(result.result?.contextState).toEqual({ mood: 'good', steps: 10 });
    expect(result.result?.diff).toEqual([
      { path: '$.home', original: 'berlin', replayed: null },
      { path: '$.tags', original: ['x', 'y'], replayed: null },
    ]);
    // The original still holds what was fused then.
    expect(result.trace.contextSnapshot).toEqual({ home: 'berlin', mood: 'good', tags: ['x', 'y'], steps: 10 });
    expect(await rawTrace(second.trace.id)).toEqual(rowBefore);
  });

  it('compares against what was fused even when no snapshot was exposed', async () => {
    const person = 'rp-no-snapshot';
    const token = await tokenFor(person);
    const t = startedAt - 10 * MINUTE;
    await update(token, person, 's1', t, [{ source: 'a', data: { a: 1 } }]);
    const hidden = await update(token, person, 's1', t + 1000, [{ source: 'b', data: { b: 2 } }], { storeSnapshot: false });
    expect(hidden.trace.contextSnapshot).toBeNull();
    const result = await replayed({ traceId: hidden.trace.id }, token);
    expect(result.result).toMatchObject({ matchesOriginal: true, diff: [], contextState: { a: 1, b: 2 } });
    expect(result.trace.contextSnapshot).toBeNull();
  });
});
