import { print, type ExecutionResult } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ContextUpdatedDocument,
  SessionPlaybackDocument,
  UpdateContextDocument,
  type SessionPlaybackSubscription,
  type SessionPlaybackSubscriptionVariables,
} from '../generated/graphql.js';
import { sseClient, subscribe, wsClient, type Subscription } from '../support/clients.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { metricValue, untilMetric } from '../support/metrics.js';

const PUBSUB_SUBSCRIBERS = 'replay_gateway_pubsub_subscribers';
const WS_SUBSCRIPTIONS = 'replay_gateway_websocket_subscriptions';

/** Section 1 of the contract: contextUpdated (live) and sessionPlayback (recorded), over graphql-ws and SSE. */
describe('subscriptions', () => {
  let gateway: TestGateway;
  let admin: string;
  const startedAt = Date.now();
  /** Clients opened by a test, closed after it whatever happened. */
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'sub-admin', roles: ['admin'] });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const tokenFor = (personId: string) => gateway.token({ sub: personId });
  const iso = (ms: number) => new Date(ms).toISOString();

  function ws(token: string | null) {
    const client = wsClient(gateway.url, token);
    cleanups.push(() => client.dispose());
    return client;
  }

  function sse(token: string | null) {
    const client = sseClient(gateway.url, token);
    cleanups.push(() => client.dispose());
    return client;
  }

  async function closeClients() {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  }
  afterEach(closeClients);



  async function update(token: string, personId: string, sessionId: string, data: Record<string, unknown>, timestamp?: number) {
    const input = { personId, sessionId, sources: [{ source: 'test', data }], timestamp: timestamp === undefined ? undefined : iso(timestamp) };
    return dataOf(await gateway.execute(UpdateContextDocument, { input }, token)).updateContext;
  }

  /** The error codes a refused subscription reports, whichever way the transport carries them. */
  async function refusal(subscription: Subscription<unknown>): Promise<unknown[]> {
    try {
      return codesOf(await subscription.next());
    } catch (error) {
      const errors = Array.isArray(error) ? error : [error];
      return errors.map((e: { extensions?: { code?: unknown } }) => e?.extensions?.code ?? String(e));
    }
  }

  describe('contextUpdated', () => {
    it('delivers every update of the person, in order and exactly once, over graphql-ws and SSE', async () => {
      const person = 'sub-order';
      const token = await tokenFor(person);
      // Every earlier subscriber is gone (each test waits for that), so counting starts from zero.
      const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
      const overWs = subscribe(ws(token), ContextUpdatedDocument, { personId: person });
      const overSse = subscribe(sse(token), ContextUpdatedDocument, { personId: person });
      await gateway.untilSubscribers(baseline + 2);

      const sent = [];
      for (let i = 0; i < 5; i += 1) sent.push(await update(token, person, i % 2 === 0 ? 's1' : 's2', { [`k${i}`]: i }));
      for (const subscription of [overWs, overSse]) {
        const events = (await subscription.take(5)).map((r) => dataOf(r).contextUpdated);
        expect(events.map((e) => e.trace.id)).toEqual(sent.map((s) => s.trace.id));
        expect(events.map((e) => e.sessionId)).toEqual(['s1', 's2', 's1', 's2', 's1']);
        expect(events.every((e) => e.personId === person)).toBe(true);
        expect(events.map((e) => e.context)).toEqual(sent.map((s) => s.context));
        expect(events[4]?.context).toEqual({ k0: 0, k2: 2, k4: 4 });
        expect(events[0]?.trace.eventType).toBe('context_update');
        expect(events[0]?.trace.timestamp).toBe(sent[0]?.trace.timestamp);
      }

      // Nothing extra or repeated in between: the next event on each is the next update.
      const last = await update(token, person, 's2', { k5: 5 });
      for (const subscription of [overWs, overSse]) expect(dataOf(await subscription.next()).contextUpdated.trace.id).toBe(last.trace.id);

      // A retried update (same clientEventId) is not delivered again.
      const once = await update(token, person, 's1', { k6: 6 });
      const keyed = { personId: person, sessionId: 's1', clientEventId: 'sub-once', sources: [{ source: 'test', data: { k7: 7 } }] };
      const firstKeyed = dataOf(await gateway.execute(UpdateContextDocument, { input: keyed }, token)).updateContext;
      expect(dataOf(await gateway.execute(UpdateContextDocument, { input: keyed }, token)).updateContext.duplicate).toBe(true);
      const marker = await update(token, person, 's1', { k8: 8 });
      for (const subscription of [overWs, overSse]) {
        const ids = (await subscription.take(3)).map((r) => dataOf(r).contextUpdated.trace.id);
        expect(ids).toEqual([once.trace.id, firstKeyed.trace.id, marker.trace.id]);
      }

      // Leaving releases the server-side subscribers on both transports.
      await overWs.stop();
      await overSse.stop();
      await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === baseline);
      await closeClients();
    });

    it('with sessionId, delivers only that session’s updates', async () => {
      const person = 'sub-session-filter';
      const token = await tokenFor(person);
      // Every earlier subscriber is gone (each test waits for that), so counting starts from zero.
      const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
      const client = ws(token);
      const onlyS1 = subscribe(client, ContextUpdatedDocument, { personId: person, sessionId: 's1' });
      const overSse = subscribe(sse(token), ContextUpdatedDocument, { personId: person, sessionId: 's1' });
      await gateway.untilSubscribers(baseline + 2);

      const sessions = ['s2', 's1', 's2', 's2', 's1', 's3', 's1'];
      const sent = [];
      for (const [i, sessionId] of sessions.entries()) sent.push(await update(token, person, sessionId, { i }));
      const expected = sent.filter((s) => s.trace.sessionId === 's1').map((s) => s.trace.id);
      for (const subscription of [onlyS1, overSse]) {
        const events = (await subscription.take(3)).map((r) => dataOf(r).contextUpdated);
        expect(events.map((e) => e.trace.id)).toEqual(expected);
        expect(events.every((e) => e.sessionId === 's1')).toBe(true);
      }
      await onlyS1.stop();
      await overSse.stop();
      await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === baseline);
      await closeClients();
    });

    it('isolates persons: subscribing to another is FORBIDDEN and one’s stream never carries another’s updates', async () => {
      const [alice, bob] = ['sub-iso-alice', 'sub-iso-bob'];
      const [aliceToken, bobToken] = [await tokenFor(alice), await tokenFor(bob)];

      expect(await refusal(subscribe(ws(bobToken), ContextUpdatedDocument, { personId: alice }))).toEqual(['FORBIDDEN']);
      expect(await refusal(subscribe(ws(bobToken), ContextUpdatedDocument, { personId: alice, sessionId: 's1' }))).toEqual(['FORBIDDEN']);

      // Every earlier subscriber is gone (each test waits for that), so counting starts from zero.
      const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
      const bobsOwn = subscribe(ws(bobToken), ContextUpdatedDocument, { personId: bob });
      const bobsOwnSse = subscribe(sse(bobToken), ContextUpdatedDocument, { personId: bob });
      const asAdmin = subscribe(ws(admin), ContextUpdatedDocument, { personId: alice });
      await gateway.untilSubscribers(baseline + 3);

      const aliceUpdates = [];
      for (let i = 0; i < 3; i += 1) aliceUpdates.push(await update(aliceToken, alice, 's1', { secret: i }));
      const bobUpdate = await update(bobToken, bob, 's1', { mine: true });
      // Bob's first event is his own update, published after Alice's three: none of hers reached him.
      for (const subscription of [bobsOwn, bobsOwnSse]) {
        const event = dataOf(await subscription.next()).contextUpdated;
        expect(event.trace.id).toBe(bobUpdate.trace.id);
        expect(event.context).toEqual({ mine: true });
      }
      // An admin may follow anyone.
      const adminEvents = (await asAdmin.take(3)).map((r) => dataOf(r).contextUpdated.trace.id);
      expect(adminEvents).toEqual(aliceUpdates.map((u) => u.trace.id));

      await Promise.all([bobsOwn.stop(), bobsOwnSse.stop(), asAdmin.stop()]);
      await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === baseline);
      await closeClients();
    });
  });

  it('over SSE, reports a refused subscription as a GraphQL error with its code', async () => {
    const owner = 'sub-sse-refusals';
    const token = await tokenFor(owner);
    await update(token, owner, 's1', { a: 1 });
    const intruder = await tokenFor('sub-sse-intruder');
    expect(await refusal(subscribe(sse(intruder), ContextUpdatedDocument, { personId: owner }))).toEqual(['FORBIDDEN']);
    // Without a token the request is refused before any stream opens: HTTP 401 (which graphql-sse reports as a
    // network error) or a coded GraphQL error; either way the response carries UNAUTHENTICATED.
    const [anonymous] = await refusal(subscribe(sse(null), ContextUpdatedDocument, { personId: owner }));
    expect(anonymous === 'UNAUTHENTICATED' || /\b401\b/.test(String(anonymous)), String(anonymous)).toBe(true);
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: print(ContextUpdatedDocument), variables: { personId: owner } }),
    });
    expect(await response.text()).toContain('"code":"UNAUTHENTICATED"');
    expect(await refusal(subscribe(sse(intruder), SessionPlaybackDocument, { personId: owner, sessionId: 's1' }))).toEqual(['FORBIDDEN']);
    expect(await refusal(subscribe(sse(token), SessionPlaybackDocument, { personId: owner, sessionId: 's1', timeScale: 0 }))).toEqual(['BAD_USER_INPUT']);
  });

  describe('sessionPlayback', () => {
    /** A recorded session whose updates are `gapsMs` apart (explicit timestamps, so pacing is known). */
    async function recorded(personId: string, sessionId: string, gapsMs: number[]) {
      const token = await tokenFor(personId);
      let at = startedAt - 60 * 60_000;
      const traces = [await update(token, personId, sessionId, { step: 0 }, at)];
      for (const [i, gap] of gapsMs.entries()) {
        at += gap;
        traces.push(await update(token, personId, sessionId, { step: i + 1, [`at${i + 1}`]: gap }, at));
      }
      return { token, traces };
    }

    /** Plays to the end, noting when each frame arrived. */
    async function playAll(token: string, variables: SessionPlaybackSubscriptionVariables, transport: 'ws' | 'sse' = 'ws') {
      const subscription = subscribe(transport === 'ws' ? ws(token) : sse(token), SessionPlaybackDocument, variables);
      const frames: { frame: SessionPlaybackSubscription['sessionPlayback']; at: number }[] = [];
      for (;;) {
        const result: ExecutionResult<SessionPlaybackSubscription> = await subscription.next(15_000);
        const frame = dataOf(result).sessionPlayback;
        frames.push({ frame, at: performance.now() });
        if (frame.done) break;
        if (frames.length > 100) throw new Error('playback does not end');
      }
      // The server completes the stream after the done frame.
      await expect(subscription.next(5000)).rejects.toThrow('Subscription completed');
      return frames;
    }

    const durationOf = (frames: { at: number }[]) => frames.at(-1)!.at - frames[0]!.at;

    it('plays the frames in order with index and total, then a final done frame, over graphql-ws and SSE', async () => {
      const person = 'sub-play-order';
      const { token, traces } = await recorded(person, 's1', [400, 400, 400]);
      for (const transport of ['ws', 'sse'] as const) {
        const frames = (await playAll(token, { personId: person, sessionId: 's1', timeScale: 50 }, transport)).map((f) => f.frame);
        expect(frames).toHaveLength(5);
        expect(frames.slice(0, 4).map((f) => f.trace?.id)).toEqual(traces.map((t) => t.trace.id));
        expect(frames.slice(0, 4).map((f) => f.trace?.timestamp)).toEqual(traces.map((t) => t.trace.timestamp));
        expect(frames.slice(0, 4).map((f) => f.context)).toEqual(traces.map((t) => t.context));
        expect(frames.map((f) => f.index)).toEqual([0, 1, 2, 3, 4]);
        expect(frames.every((f) => f.total === 4)).toBe(true);
        expect(frames.every((f) => f.isReplay)).toBe(true);
        expect(frames.map((f) => f.done)).toEqual([false, false, false, false, true]);
        expect(frames[4]).toMatchObject({ trace: null, context: null });
      }
      await closeClients();
    });

    it('paces frames by the recorded gaps divided by timeScale', async () => {
      const person = 'sub-play-pacing';
      const { token } = await recorded(person, 's1', [500, 500, 500]);
      const slow = durationOf(await playAll(token, { personId: person, sessionId: 's1', timeScale: 1 }));
      const fast = durationOf(await playAll(token, { personId: person, sessionId: 's1', timeScale: 20 }));
      // 1500 ms of recorded gaps: about 1500 ms at 1x and 75 ms at 20x. The waits are never shortened, so the
      // slow run cannot be much under 1500 ms; overheads only add, so the ratio is checked with a wide margin.
      expect(slow).toBeGreaterThanOrEqual(1350);
      expect(slow / Math.max(fast, 1)).toBeGreaterThanOrEqual(4);
      await closeClients();
    });

    it('caps each wait at maxGapMs', async () => {
      const person = 'sub-play-cap';
      const { token } = await recorded(person, 's1', [30_000, 30_000]);
      const frames = await playAll(token, { personId: person, sessionId: 's1', timeScale: 1, maxGapMs: 100 });
      expect(frames.map((f) => f.frame.index)).toEqual([0, 1, 2, 3]);
      const duration = durationOf(frames);
      // Uncapped this would take a minute; capped, two waits of 100 ms.
      expect(duration).toBeGreaterThanOrEqual(150);
      expect(duration).toBeLessThan(10_000);
      await closeClients();
    });

    it('starts at `from`, skipping the earlier updates', async () => {
      const person = 'sub-play-from';
      const { token, traces } = await recorded(person, 's1', [400, 400, 400]);
      const frames = (await playAll(token, { personId: person, sessionId: 's1', timeScale: 50, from: traces[2]!.trace.timestamp })).map((f) => f.frame);
      expect(frames.map((f) => f.trace?.id ?? null)).toEqual([traces[2]!.trace.id, traces[3]!.trace.id, null]);
      expect(frames.map((f) => f.index)).toEqual([0, 1, 2]);
      expect(frames.every((f) => f.total === 2)).toBe(true);
      expect(frames[0]?.context).toEqual(traces[2]!.context);
      await closeClients();
    });

    it('refuses a bad timeScale with BAD_USER_INPUT and another person’s session with FORBIDDEN; an admin may play any', async () => {
      const owner = 'sub-play-guarded';
      const { token, traces } = await recorded(owner, 's1', [100]);
      const client = ws(token);
      for (const timeScale of [0, -2]) {
        expect(await refusal(subscribe(client, SessionPlaybackDocument, { personId: owner, sessionId: 's1', timeScale })), String(timeScale)).toEqual([
          'BAD_USER_INPUT',
        ]);
      }
      expect(await refusal(subscribe(client, SessionPlaybackDocument, { personId: owner, sessionId: 's1', maxGapMs: -1 }))).toEqual(['BAD_USER_INPUT']);

      const intruder = await tokenFor('sub-play-intruder');
      expect(await refusal(subscribe(ws(intruder), SessionPlaybackDocument, { personId: owner, sessionId: 's1' }))).toEqual(['FORBIDDEN']);
      // An unknown session of one's own is an error, not an empty playback.
      const [unknown] = await refusal(subscribe(client, SessionPlaybackDocument, { personId: owner, sessionId: 'nope' }));
      expect(['NOT_FOUND', 'SESSION_NOT_FOUND']).toContain(unknown);

      const played = (await playAll(admin, { personId: owner, sessionId: 's1', timeScale: 10, maxGapMs: null })).map((f) => f.frame);
      expect(played.map((f) => f.trace?.id ?? null)).toEqual([...traces.map((t) => t.trace.id), null]);
      await closeClients();
    });

    it('stops promptly when the subscriber leaves', async () => {
      const person = 'sub-play-stop';
      const { token, traces } = await recorded(person, 's1', [20_000, 20_000]);
      // Earlier tests' connections are closed; wait until the server has counted them out.
      const baseline = await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === 0);
      const client = ws(token);
      const playback = subscribe(client, SessionPlaybackDocument, { personId: person, sessionId: 's1', timeScale: 1, maxGapMs: 60_000 });
      const first = dataOf(await playback.next()).sessionPlayback;
      expect(first.trace?.id).toBe(traces[0]!.trace.id);
      expect(await metricValue(gateway.url, WS_SUBSCRIPTIONS)).toBe(baseline + 1);

      // Mid-wait (the next frame is 20 s away): leaving ends the operation on the server at once.
      const stoppedAt = performance.now();
      await playback.stop();
      await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === baseline, 2000);
      expect(performance.now() - stoppedAt).toBeLessThan(2000);

      // The connection stays usable: a new playback on it runs to the end at a fast scale.
      const again = subscribe(client, SessionPlaybackDocument, { personId: person, sessionId: 's1', timeScale: 1, maxGapMs: 10 });
      const frames = await again.take(4);
      expect(frames.map((r) => dataOf(r).sessionPlayback.index)).toEqual([0, 1, 2, 3]);
      await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === baseline, 2000);
      await closeClients();
    });
  });
});
