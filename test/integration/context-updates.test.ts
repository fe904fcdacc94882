import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionDocument,
  TracesDocument,
  UpdateContextDocument,
  type ContextSourceInput,
  type UpdateContextInput,
} from '../generated/graphql.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

/** Section 1 of the contract: updateContext — fusion rules, idempotency, validation and access, over real HTTP. */
describe('updateContext', () => {
  let gateway: TestGateway;
  let admin: string;
  let ingest: string;

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'cu-admin', roles: ['admin'] });
    ingest = await gateway.token({ sub: 'cu-ingest-service', roles: ['ingest'] });
  });
  afterAll(() => gateway?.close());

  const tokenFor = (personId: string) => gateway.token({ sub: personId });
  const iso = (ms: number) => new Date(ms).toISOString();

  function update(input: UpdateContextInput, token: string | null) {
    return gateway.execute(UpdateContextDocument, { input }, token);
  }

  async function updated(input: UpdateContextInput, token: string) {
    return dataOf(await update(input, token)).updateContext;
  }

  /** What is stored for a person, read as an admin: the session (or null) and how many traces exist. */
  async function stored(personId: string, sessionId: string) {
    const session = dataOf(await gateway.execute(SessionDocument, { personId, sessionId }, admin)).session;
    const traces = dataOf(await gateway.execute(TracesDocument, { filter: { personId }, first: 1 }, admin)).traces;
    return { session, traceCount: traces.totalCount };
  }

  describe('fusion', () => {
    it('takes each key from the most confident source and records provenance, algorithm and fusedAt', async () => {
      const person = 'cu-fuse-confidence';
      const token = await tokenFor(person);
      const before = Date.now();
      const sources: ContextSourceInput[] = [
        { source: 'gps', data: { location: 'home', speed: 3 }, confidence: 0.6 },
        { source: 'wifi', data: { location: 'office' }, confidence: 0.9 },
        { source: 'calendar', data: { meeting: 'standup', location: 'room-4' }, confidence: 0.1 },
      ];
      const result = await updated({ personId: person, sessionId: 's1', sources }, token);
      const after = Date.now();

      expect(result.duplicate).toBe(false);
      expect(result.context).toEqual({ location: 'office', speed: 3, meeting: 'standup' });
      const { trace } = result;
      expect(trace.personId).toBe(person);
      expect(trace.sessionId).toBe('s1');
      expect(trace.eventType).toBe('context_update');
      // No timestamp given: the server's receive time.
      const timestamp = Date.parse(trace.timestamp);
      expect(timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(timestamp).toBeLessThanOrEqual(after + 1);
      expect(trace.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(trace.contextSnapshot).toEqual(result.context);
      expect(trace.replayOfId).toBeNull();
      expect(trace.replaySource).toBeNull();
      expect(trace.replayedBy).toBeNull();

      const { fusion, sources: kept } = trace.eventData;
      // Sources as received, with the defaults made explicit.
      expect(kept).toEqual(sources.map((s) => ({ ...s, observedAt: null })));
      expect(fusion.state).toEqual({ location: 'office', speed: 3, meeting: 'standup' });
      expect(fusion.provenance).toEqual({ location: 'wifi', speed: 'gps', meeting: 'calendar' });
      expect(typeof fusion.algorithm).toBe('string');
      expect(fusion.algorithm.length).toBeGreaterThan(0);
      const fusedAt = Date.parse(fusion.fusedAt);
      expect(fusedAt).toBeGreaterThanOrEqual(before - 1);
      expect(fusedAt).toBeLessThanOrEqual(after + 1);

      expect(trace.session).toEqual({ personId: person, sessionId: 's1', traceCount: 1, context: result.context });
    });

    it('defaults confidence to 1.0', async () => {
      const person = 'cu-fuse-default-confidence';
      const result = await updated(
        {
          personId: person,
          sessionId: 's1',
          sources: [
            { source: 'implicit', data: { mode: 'walking' } },
            { source: 'explicit', data: { mode: 'driving' }, confidence: 0.99 },
          ],
        },
        await tokenFor(person),
      );
      expect(result.context).toEqual({ mode: 'walking' });
      expect(result.trace.eventData.fusion.provenance).toEqual({ mode: 'implicit' });
      expect(result.trace.eventData.sources[0].confidence).toBe(1);
    });

    it('breaks a confidence tie by the later observedAt, whatever the position', async () => {
      const person = 'cu-fuse-observed';
      const t = Date.now() - 60_000;
      const result = await updated(
        {
          personId: person,
          sessionId: 's1',
          sources: [
            { source: 'fresh', data: { activity: 'running' }, confidence: 0.8, observedAt: iso(t + 1000) },
            { source: 'stale', data: { activity: 'sitting' }, confidence: 0.8, observedAt: iso(t) },
          ],
        },
        await tokenFor(person),
      );
      expect(result.context).toEqual({ activity: 'running' });
      expect(result.trace.eventData.fusion.provenance).toEqual({ activity: 'fresh' });
      expect(result.trace.eventData.sources[1].observedAt).toBe(iso(t));
    });

    it('breaks a tie on confidence and observedAt by the later position', async () => {
      const person = 'cu-fuse-position';
      const observedAt = iso(Date.now() - 30_000);
      const result = await updated(
        {
          personId: person,
          sessionId: 's1',
          sources: [
            { source: 'first', data: { room: 'kitchen', door: 'open' }, confidence: 0.5, observedAt },
            { source: 'second', data: { room: 'hall' }, confidence: 0.5, observedAt },
            { source: 'third', data: { door: 'closed' }, confidence: 0.5, observedAt },
          ],
        },
        await tokenFor(person),
      );
      expect(result.context).toEqual({ room: 'hall', door: 'closed' });
      expect(result.trace.eventData.fusion.provenance).toEqual({ room: 'second', door: 'third' });
    });

    it('counts a source without observedAt as observed at the update timestamp', async () => {
      const person = 'cu-fuse-implicit-observed';
      // The update is stamped 10 s ago, so "observed at the timestamp" and "observed at receive time" differ.
      const t = Date.now() - 10_000;
      const result = await updated(
        {
          personId: person,
          sessionId: 's1',
          timestamp: iso(t),
          sources: [
            // Observed after the update timestamp (but before the server received it): beats the implicit one.
            { source: 'later', data: { k: 'later' }, confidence: 0.5, observedAt: iso(t + 1000) },
            // No observedAt: observed at `t`.
            { source: 'implicit', data: { k: 'implicit', j: 'implicit' }, confidence: 0.5 },
            // Observed before `t`: loses to the implicit one although it comes later.
            { source: 'earlier', data: { j: 'earlier' }, confidence: 0.5, observedAt: iso(t - 1000) },
          ],
        },
        await tokenFor(person),
      );
      expect(result.trace.timestamp).toBe(iso(t));
      expect(result.context).toEqual({ k: 'later', j: 'implicit' });
      expect(result.trace.eventData.fusion.provenance).toEqual({ k: 'later', j: 'implicit' });
    });

    it('starts from the previous state: keys not in this update are carried over', async () => {
      const person = 'cu-fuse-carry';
      const token = await tokenFor(person);
      const t = Date.now() - 5000;
      await updated({ personId: person, sessionId: 's1', timestamp: iso(t), sources: [{ source: 'a', data: { x: 1, y: 1 } }] }, token);
      const second = await updated(
        { personId: person, sessionId: 's1', timestamp: iso(t + 1000), sources: [{ source: 'b', data: { y: 2, z: { nested: [1, 2] } } }] },
        token,
      );
      expect(second.context).toEqual({ x: 1, y: 2, z: { nested: [1, 2] } });
      // The trace's fusion is this update's own outcome; the snapshot is the whole state after it.
      expect(second.trace.eventData.fusion.state).toEqual({ y: 2, z: { nested: [1, 2] } });
      expect(second.trace.eventData.fusion.provenance).toEqual({ y: 'b', z: 'b' });
      expect(second.trace.contextSnapshot).toEqual({ x: 1, y: 2, z: { nested: [1, 2] } });
      expect(second.trace.session).toMatchObject({ traceCount: 2, context: second.context });

      // Another session of the same person starts from nothing.
      const other = await updated({ personId: person, sessionId: 's2', sources: [{ source: 'c', data: { w: true } }] }, token);
      expect(other.context).toEqual({ w: true });
    });

    it('keeps a given eventType and timestamp', async () => {
      const person = 'cu-event-type';
      const timestamp = iso(Date.now() - 3000);
      const result = await updated(
        { personId: person, sessionId: 's1', eventType: 'location_change', timestamp, sources: [{ source: 'gps', data: { at: 'park' } }] },
        await tokenFor(person),
      );
      expect(result.trace.eventType).toBe('location_change');
      expect(result.trace.timestamp).toBe(timestamp);
    });

    it('with storeSnapshot false stores no snapshot but still updates the session context', async () => {
      const person = 'cu-no-snapshot';
      const token = await tokenFor(person);
      const t = Date.now() - 5000;
      const first = await updated(
        { personId: person, sessionId: 's1', timestamp: iso(t), storeSnapshot: false, sources: [{ source: 'a', data: { mood: 'calm' } }] },
        token,
      );
      expect(first.trace.contextSnapshot).toBeNull();
      expect(first.context).toEqual({ mood: 'calm' });
      expect(first.trace.eventData.fusion.state).toEqual({ mood: 'calm' });
      const { session } = await stored(person, 's1');
      expect(session?.context).toEqual({ mood: 'calm' });
      expect(session?.traceCount).toBe(1);
      expect(session?.traces.nodes.map((n) => n.contextSnapshot)).toEqual([null]);

      const second = await updated({ personId: person, sessionId: 's1', timestamp: iso(t + 1000), sources: [{ source: 'b', data: { hr: 70 } }] }, token);
      expect(second.trace.contextSnapshot).toEqual({ mood: 'calm', hr: 70 });
    });
  });

  describe('idempotency', () => {
    it('answers a retry with the same clientEventId with the first result, writing nothing', async () => {
      const person = 'cu-idem-retry';
      const token = await tokenFor(person);
      const input: UpdateContextInput = { personId: person, sessionId: 's1', clientEventId: 'evt-1', sources: [{ source: 'a', data: { v: 1 } }] };
      const first = await updated(input, token);
      expect(first.duplicate).toBe(false);
      const before = await stored(person, 's1');
      expect(before.traceCount).toBe(1);

      const retry = await updated(input, token);
      expect(retry.duplicate).toBe(true);
      expect(retry.trace.id).toBe(first.trace.id);
      expect(retry.context).toEqual(first.context);
      const { session: _s1, ...firstTrace } = first.trace;
      const { session: _s2, ...retryTrace } = retry.trace;
      expect(retryTrace).toEqual(firstTrace);

      // Even a retry carrying other data returns the first result and changes nothing.
      const changed = await updated({ ...input, sources: [{ source: 'a', data: { v: 2 } }] }, token);
      expect(changed.duplicate).toBe(true);
      expect(changed.trace.id).toBe(first.trace.id);
      expect(changed.context).toEqual({ v: 1 });

      const after = await stored(person, 's1');
      expect(after.traceCount).toBe(1);
      expect(after.session?.traceCount).toBe(1);
      expect(after.session?.context).toEqual({ v: 1 });

      // A new key is a new update.
      const next = await updated({ ...input, clientEventId: 'evt-2', sources: [{ source: 'a', data: { v: 3 } }] }, token);
      expect(next.duplicate).toBe(false);
      expect(next.trace.id).not.toBe(first.trace.id);
      expect((await stored(person, 's1')).traceCount).toBe(2);
    });

    it('keeps keys apart per person', async () => {
      const [a, b] = ['cu-idem-scope-a', 'cu-idem-scope-b'];
      const first = await updated({ personId: a, sessionId: 's1', clientEventId: 'shared', sources: [{ source: 'x', data: { n: 1 } }] }, ingest);
      const other = await updated({ personId: b, sessionId: 's1', clientEventId: 'shared', sources: [{ source: 'x', data: { n: 2 } }] }, ingest);
      expect(other.duplicate).toBe(false);
      expect(other.trace.id).not.toBe(first.trace.id);
      expect(other.trace.personId).toBe(b);
    });

    it('writes exactly one trace for 10 concurrent retries of the same key', async () => {
      const person = 'cu-idem-concurrent';
      const token = await tokenFor(person);
      const input: UpdateContextInput = { personId: person, sessionId: 's1', clientEventId: 'burst', sources: [{ source: 'a', data: { n: 1 } }] };
      const results = await Promise.all(Array.from({ length: 10 }, () => update(input, token)));
      const payloads = results.map((r) => dataOf(r).updateContext);
      expect(new Set(payloads.map((p) => p.trace.id)).size).toBe(1);
      expect(payloads.filter((p) => !p.duplicate)).toHaveLength(1);
      expect(payloads.filter((p) => p.duplicate)).toHaveLength(9);
      for (const p of payloads) expect(p.context).toEqual({ n: 1 });
      const { session, traceCount } = await stored(person, 's1');
      expect(traceCount).toBe(1);
      expect(session?.traceCount).toBe(1);
    });
  });

  describe('concurrency', () => {
    it('writes exactly one trace for concurrent retries of a key on a session that already exists', async () => {
      const person = 'cu-idem-concurrent-existing';
      const token = await tokenFor(person);
      await updated({ personId: person, sessionId: 's1', sources: [{ source: 'a', data: { before: true } }] }, token);
      const input: UpdateContextInput = { personId: person, sessionId: 's1', clientEventId: 'burst-2', sources: [{ source: 'a', data: { n: 2 } }] };
      const payloads = (await Promise.all(Array.from({ length: 10 }, () => update(input, token)))).map((r) => dataOf(r).updateContext);
      expect(new Set(payloads.map((p) => p.trace.id)).size).toBe(1);
      expect(payloads.filter((p) => !p.duplicate)).toHaveLength(1);
      const { session, traceCount } = await stored(person, 's1');
      expect(traceCount).toBe(2);
      expect(session?.traceCount).toBe(2);
      expect(session?.context).toEqual({ before: true, n: 2 });
    });

    it('serialises concurrent distinct updates of one session: none is lost', async () => {
      const person = 'cu-concurrent-distinct';
      const token = await tokenFor(person);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => update({ personId: person, sessionId: 's1', sources: [{ source: `src${i}`, data: { [`k${i}`]: i } }] }, token)),
      );
      const payloads = results.map((r) => dataOf(r).updateContext);
      expect(new Set(payloads.map((p) => p.trace.id)).size).toBe(10);
      const expected = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]));
      const { session, traceCount } = await stored(person, 's1');
      expect(traceCount).toBe(10);
      expect(session?.traceCount).toBe(10);
      expect(session?.context).toEqual(expected);
      // Each snapshot builds on the one before it, in the session's order.
      const snapshots = session!.traces.nodes.map((n) => Object.keys(n.contextSnapshot as object).length);
      expect(snapshots).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
  });

  describe('validation', () => {
    it('refuses bad input with BAD_USER_INPUT and writes nothing', async () => {
      const person = 'cu-invalid';
      const token = await tokenFor(person);
      const base = Date.now() - 60_000;
      const good = await updated({ personId: person, sessionId: 's1', timestamp: iso(base), sources: [{ source: 'a', data: { ok: true } }] }, token);
      const source = { source: 'a', data: { bad: true } };
      const cases: [string, UpdateContextInput, string][] = [
        ['no sources', { personId: person, sessionId: 's1', sources: [] }, token],
        ['data a string', { personId: person, sessionId: 's1', sources: [{ source: 'a', data: 'text' }] }, token],
        ['data an array', { personId: person, sessionId: 's1', sources: [{ source: 'a', data: [1, 2] }] }, token],
        ['data null', { personId: person, sessionId: 's1', sources: [{ source: 'a', data: null }] }, token],
        ['data a number', { personId: person, sessionId: 's1', sources: [{ source: 'a', data: 42 }] }, token],
        ['confidence above 1', { personId: person, sessionId: 's1', sources: [{ ...source, confidence: 1.01 }] }, token],
        ['confidence below 0', { personId: person, sessionId: 's1', sources: [{ ...source, confidence: -0.1 }] }, token],
        ['one bad source among good ones', { personId: person, sessionId: 's1', sources: [source, { ...source, confidence: 2 }] }, token],
        ['empty source name', { personId: person, sessionId: 's1', sources: [{ ...source, source: '' }] }, token],
        // An empty personId names nobody: checked as input for a caller allowed to write for anyone.
        ['empty personId', { personId: '', sessionId: 's1', sources: [source] }, ingest],
        ['blank personId', { personId: '   ', sessionId: 's1', sources: [source] }, admin],
        ['empty sessionId', { personId: person, sessionId: '', sources: [source] }, token],
        ['empty eventType', { personId: person, sessionId: 's1', eventType: '', sources: [source] }, token],
        ['more sources than the limit', { personId: person, sessionId: 's1', sources: Array.from({ length: 101 }, (_, i) => ({ source: `s${i}`, data: { i } })) }, token],
        ['timestamp before the session lastAt', { personId: person, sessionId: 's1', timestamp: iso(base - 1), sources: [source] }, token],
        ['timestamp far in the future', { personId: person, sessionId: 's1', timestamp: iso(Date.now() + 3_600_000), sources: [source] }, token],
        ['timestamp far in the future, new session', { personId: person, sessionId: 's2', timestamp: iso(Date.now() + 86_400_000), sources: [source] }, token],
      ];
      for (const [name, input, as] of cases) {
        const result = await update(input, as);
        expect(codesOf(result), name).toEqual(['BAD_USER_INPUT']);
        expect(result.data ?? null, name).toBeNull();
      }
      // A literal of the wrong type fails validation, before any resolver runs: still BAD_USER_INPUT.
      const notAFloat = await gateway.execute(
        `mutation { updateContext(input: {personId: "${person}", sessionId: "s1", sources: [{source: "a", data: {}, confidence: "high"}]}) { duplicate } }`,
        {},
        token,
      );
      expect(codesOf(notAFloat)).toEqual(['BAD_USER_INPUT']);

      const after = await stored(person, 's1');
      expect(after.traceCount).toBe(1);
      expect(after.session?.traceCount).toBe(1);
      expect(after.session?.lastAt).toBe(good.trace.timestamp);
      expect(after.session?.context).toEqual({ ok: true });
      expect((await stored(person, 's2')).session).toBeNull();
      expect((await stored('', 's1')).traceCount).toBe(0);
    });

    it('accepts a timestamp equal to the session lastAt and the bounds 0 and 1 for confidence', async () => {
      const person = 'cu-valid-bounds';
      const token = await tokenFor(person);
      const t = iso(Date.now() - 10_000);
      await updated({ personId: person, sessionId: 's1', timestamp: t, sources: [{ source: 'a', data: { k: 'a' }, confidence: 0 }] }, token);
      const same = await updated({ personId: person, sessionId: 's1', timestamp: t, sources: [{ source: 'b', data: { k: 'b' }, confidence: 1 }] }, token);
      expect(same.context).toEqual({ k: 'b' });
      expect(same.trace.session.traceCount).toBe(2);
    });
  });

  describe('access', () => {
    it('refuses a person writing for another person with FORBIDDEN, writing nothing', async () => {
      const bob = await tokenFor('cu-access-bob');
      const result = await update({ personId: 'cu-access-alice', sessionId: 's1', sources: [{ source: 'a', data: { hacked: true } }] }, bob);
      expect(codesOf(result)).toEqual(['FORBIDDEN']);
      expect(result.data).toBeNull();
      expect(await stored('cu-access-alice', 's1')).toEqual({ session: null, traceCount: 0 });
    });

    it('lets an ingest token write for anyone, and the person read it', async () => {
      const person = 'cu-access-ingested';
      const result = await updated({ personId: person, sessionId: 's1', sources: [{ source: 'backend', data: { tier: 'gold' } }] }, ingest);
      expect(result.trace.personId).toBe(person);
      const own = dataOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1' }, await tokenFor(person)));
      expect(own.session?.context).toEqual({ tier: 'gold' });
      expect(own.session?.traces.nodes.map((n) => n.id)).toEqual([result.trace.id]);
    });

    it('lets an admin write for anyone', async () => {
      const result = await updated({ personId: 'cu-access-by-admin', sessionId: 's1', sources: [{ source: 'ops', data: { flag: 1 } }] }, admin);
      expect(result.trace.personId).toBe('cu-access-by-admin');
    });

    it('refuses a request without a token with UNAUTHENTICATED, writing nothing', async () => {
      const person = 'cu-access-anonymous';
      const result = await update({ personId: person, sessionId: 's1', sources: [{ source: 'a', data: { x: 1 } }] }, null);
      expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
      expect(result.data ?? null).toBeNull();
      const bad = await update({ personId: person, sessionId: 's1', sources: [{ source: 'a', data: { x: 1 } }] }, 'not-a-jwt');
      expect(codesOf(bad)).toEqual(['UNAUTHENTICATED']);
      expect(await stored(person, 's1')).toEqual({ session: null, traceCount: 0 });
    });
  });
});
