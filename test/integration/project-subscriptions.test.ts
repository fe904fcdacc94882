import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ProjectEventPageDocument,
  ProjectEventsDocument,
  PublishDataDocument,
  type ProjectEventsSubscription,
  type StreamEventFieldsFragment,
} from '../generated/graphql.js';
import type { Viewer } from '../../src/auth/viewer.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLocalPubSub, type PubSub } from '../../src/realtime/pubsub.js';
import { createProjectFeeds } from '../../src/services/project-feeds.js';
import { createProjectWrites, type StreamEventInput } from '../../src/services/project-writes.js';
import { openDatabase, type Database, type Db } from '../../src/store/database.js';
import { sseClient, subscribe, wsClient, type Subscription } from '../support/clients.js';
import { freshDatabase } from '../support/databases.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { compareSeq } from '../support/sequences.js';
import { untilMetric } from '../support/metrics.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

const PUBSUB_SUBSCRIBERS = 'replay_gateway_pubsub_subscribers';


/**
 * Section 2 of the contract, live: projectEvents(projectId, since) over graphql-ws and SSE. Catch-up from
 * `since`, then live events, in order, with no gap and no repeat at the switch-over, even while several clients
 * publish; and project access at subscribe time and for every event.
 */
describe('projectEvents subscription', () => {
  let gateway: TestGateway;
  let admin: string;
  let ingest: string;
  /** Clients opened by a test, closed after it whatever happened. */
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'ps-admin', roles: ['admin'] });
    ingest = await gateway.token({ sub: 'ps-ingest', roles: ['ingest'] });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  function client(transport: 'ws' | 'sse', token: string | null) {
    if (transport === 'ws') {
      const ws = wsClient(gateway.url, token);
      cleanups.push(() => ws.dispose());
      return ws;
    }
    const sse = sseClient(gateway.url, token);
    cleanups.push(() => sse.dispose());
    return sse;
  }
  async function closeClients() {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  }
  afterEach(closeClients);


  async function publish(projectId: string, dataKey: string, data: unknown, token = ingest) {
    return dataOf(await gateway.execute(PublishDataDocument, { projectId, dataKey, data }, token)).publishData;
  }
  async function allEvents(id: string): Promise<StreamEventFieldsFragment[]> {
    const events: StreamEventFieldsFragment[] = [];
    let since = '0';
    for (let pages = 0; pages < 20; pages += 1) {
      const page = dataOf(await gateway.execute(ProjectEventPageDocument, { id, since, first: 1000 }, admin)).project!.events;
      events.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) return events;
      since = page.pageInfo.endCursor!;
    }
    throw new Error('events pagination does not end');
  }

  function follow(transport: 'ws' | 'sse', token: string, projectId: string, since?: string) {
    return subscribe(client(transport, token), ProjectEventsDocument, { projectId, since });
  }
  /** The next `count` events of a subscription (fails on any error result). */
  async function events(subscription: Subscription<ProjectEventsSubscription>, count: number, timeoutMs = 15_000) {
    return (await subscription.take(count, timeoutMs)).map((r) => dataOf(r).projectEvents);
  }

  /** The error codes a refused subscription reports, whichever way the transport carries them. */
  async function refusal(subscription: Subscription<unknown>, timeoutMs = 5000): Promise<unknown[]> {
    try {
      return codesOf(await subscription.next(timeoutMs));
    } catch (error) {
      const errors = Array.isArray(error) ? error : [error];
      return errors.map((e: { extensions?: { code?: unknown } }) => e?.extensions?.code ?? String(e));
    }
  }

  it('catches up from since, then delivers live events, over graphql-ws and SSE', async () => {
    const id = 'ps-basic';
    const stored: StreamEventFieldsFragment[] = [];
    for (let i = 0; i < 5; i += 1) stored.push(await publish(id, `k${i % 2}`, { i }));

    const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
    const subscriptions = (['ws', 'sse'] as const).flatMap((transport) => [
      { transport, since: '0', expect: (all: StreamEventFieldsFragment[]) => all },
      { transport, since: stored[1]!.sequence, expect: (all: StreamEventFieldsFragment[]) => all.slice(2) },
      { transport, since: stored[4]!.sequence, expect: (all: StreamEventFieldsFragment[]) => all.slice(5) },
      { transport, since: undefined, expect: (all: StreamEventFieldsFragment[]) => all.slice(5) },
    ]).map((s) => ({ ...s, subscription: follow(s.transport, admin, id, s.since) }));
    // Listening: from here on every publish is live for the subscribers without since.
    await gateway.untilSubscribers(baseline + subscriptions.length);

    const live = [await publish(id, 'k0', { live: 1 }), await publish(id, 'k1', { live: 2 })];
    const all = [...stored, ...live];
    for (const { transport, since, expect: expected, subscription } of subscriptions) {
      const want = expected(all);
      expect(await events(subscription, want.length), `${transport} since ${since}`).toEqual(want);
    }
    // Nothing extra or repeated: the next event of each is the next publish.
    const marker = await publish(id, 'k0', { marker: true });
    for (const { transport, since, subscription } of subscriptions) expect(await events(subscription, 1), `${transport} since ${since}`).toEqual([marker]);

    // Leaving releases every server-side subscriber.
    await Promise.all(subscriptions.map((s) => s.subscription.stop()));
    await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === baseline);
  });

  it('waits for the first event of a project that has none yet', async () => {
    const id = 'ps-empty';
    const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
    const fromStart = follow('ws', admin, id, '0');
    const liveOnly = follow('sse', admin, id);
    await gateway.untilSubscribers(baseline + 2);
    const first = await publish(id, 'k', 1);
    expect(await events(fromStart, 1)).toEqual([first]);
    expect(await events(liveOnly, 1)).toEqual([first]);
  });

  it('gives every subscriber each event exactly once, in order, while four clients publish 50 events each', async () => {
    const id = 'ps-race';
    const PUBLISHERS = 4;
    const PER_PUBLISHER = 50;
    const prefill: StreamEventFieldsFragment[] = [];
    for (let i = 0; i < 30; i += 1) prefill.push(await publish(id, `pre${i % 3}`, { i }));

    const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
    type Follower = { name: string; since: string | undefined; subscription: Subscription<ProjectEventsSubscription> };
    const followers: Follower[] = [];
    const add = (name: string, transport: 'ws' | 'sse', since?: string) =>
      followers.push({ name, since, subscription: follow(transport, admin, id, since) });
    add('start/ws', 'ws', '0');
    add('start/sse', 'sse', '0');
    add('middle/ws', 'ws', prefill[14]!.sequence);
    add('middle/sse', 'sse', prefill[14]!.sequence);
    add('latest/ws', 'ws', prefill[29]!.sequence);
    add('latest/sse', 'sse', prefill[29]!.sequence);
    const live = { ws: follow('ws', admin, id), sse: follow('sse', admin, id) };
    await gateway.untilSubscribers(baseline + followers.length + 2);

    // Four publishers at once; while they run, more subscribers join from positions inside the moving stream.
    const published: StreamEventFieldsFragment[][] = Array.from({ length: PUBLISHERS }, () => []);
    const lateLive: Subscription<ProjectEventsSubscription>[] = [];
    const publishers = published.map(async (mine, p) => {
      for (let i = 0; i < PER_PUBLISHER; i += 1) {
        mine.push(await publish(id, `p${p}-k${i % 4}`, { p, i }));
        if (p === 0 && (i === 10 || i === 25)) {
          const at = mine.at(-1)!.sequence;
          add(`mid-${i}/ws`, 'ws', at);
          add(`mid-${i}/sse`, 'sse', at);
          add(`start-late-${i}/ws`, 'ws', '0');
          lateLive.push(follow(i === 10 ? 'ws' : 'sse', admin, id));
        }
      }
    });
    await Promise.all(publishers);

    const all = await allEvents(id);
    const sequences = all.map((e) => e.sequence);
    expect(all).toHaveLength(30 + PUBLISHERS * PER_PUBLISHER);
    expect(sequences.every((s, i) => i === 0 || compareSeq(sequences[i - 1]!, s) < 0)).toBe(true);
    expect(new Set(sequences)).toEqual(new Set([...prefill, ...published.flat()].map((e) => e.sequence)));
    // Each publisher's own events are in its publishing order.
    for (const mine of published) expect(mine.map((e) => e.sequence)).toEqual([...mine.map((e) => e.sequence)].sort(compareSeq));

    for (const { name, since, subscription } of followers) {
      const want = all.filter((e) => compareSeq(e.sequence, since === '0' ? '0-0' : since!) > 0);
      const got = await events(subscription, want.length);
      expect(got.map((e) => e.sequence), name).toEqual(want.map((e) => e.sequence));
      expect(got, name).toEqual(want);
    }
    // The live-only subscribers that listened before the first publish see every new event.
    for (const [name, subscription] of Object.entries(live)) {
      expect((await events(subscription, PUBLISHERS * PER_PUBLISHER)).map((e) => e.sequence), `live/${name}`).toEqual(sequences.slice(30));
    }

    // Then nothing extra or repeated: the next event everyone gets is the marker. Live-only subscribers that
    // joined mid-stream got a gapless tail of the stream, ending just before the marker.
    const marker = await publish(id, 'marker', true);
    for (const { name, subscription } of followers) expect((await events(subscription, 1))[0]?.sequence, name).toBe(marker.sequence);
    for (const subscription of Object.values(live)) expect((await events(subscription, 1))[0]?.sequence).toBe(marker.sequence);
    for (const [i, subscription] of lateLive.entries()) {
      const tail: string[] = [];
      for (;;) {
        const event = (await events(subscription, 1))[0]!;
        if (event.sequence === marker.sequence) break;
        tail.push(event.sequence);
        if (tail.length > all.length) throw new Error('late live subscriber never reached the marker');
      }
      expect(tail, `late live #${i}`).toEqual(sequences.slice(sequences.length - tail.length));
    }

    await Promise.all([...followers, ...Object.values(live).map((subscription) => ({ subscription })), ...lateLive.map((subscription) => ({ subscription }))].map((f) => f.subscription.stop()));
    await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === baseline);
  });

  it('refuses at subscribe time a token that may not read the project, over graphql-ws and SSE', async () => {
    const id = 'ps-secret';
    await publish(id, 'k', 1);
    const outsiders = {
      other: await gateway.token({ sub: 'ps-other', projects: ['ps-elsewhere'] }),
      none: await gateway.token({ sub: 'ps-none' }),
    };
    for (const transport of ['ws', 'sse'] as const) {
      for (const [who, token] of Object.entries(outsiders)) {
        expect(await refusal(follow(transport, token, id, '0')), `${who} over ${transport}`).toEqual(['FORBIDDEN']);
        expect(await refusal(follow(transport, token, id)), `${who} over ${transport}`).toEqual(['FORBIDDEN']);
      }
    }
    // Without a token: HTTP 401 over SSE (graphql-sse reports it as a network error) or a coded error.
    const [anonymous] = await refusal(follow('sse', null as unknown as string, id, '0'));
    expect(anonymous === 'UNAUTHENTICATED' || /\b401\b/.test(String(anonymous)), String(anonymous)).toBe(true);
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: print(ProjectEventsDocument), variables: { projectId: id, since: '0' } }),
    });
    expect(await response.text()).toContain('"code":"UNAUTHENTICATED"');

    // Every kind of reader may follow it.
    const readers = {
      admin,
      ingest,
      named: await gateway.token({ sub: 'ps-named', projects: [id] }),
      star: await gateway.token({ sub: 'ps-star', projects: '*' }),
    };
    for (const [who, token] of Object.entries(readers)) {
      const [event] = await events(follow(who === 'star' ? 'sse' : 'ws', token, id, '0'), 1);
      expect(event?.projectId, who).toBe(id);
    }
  });

  it('never delivers events of a project the token may not read', async () => {
    const [mine, theirs] = ['ps-mine', 'ps-theirs'];
    const token = await gateway.token({ sub: 'ps-reader', projects: [mine] });
    const theirsBefore = [await publish(theirs, 'k', 'before-1'), await publish(theirs, 'k', 'before-2')];
    const mineBefore = await publish(mine, 'k', 'mine-before');
    expect(theirsBefore).toHaveLength(2);

    const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
    const subscriptions = [follow('ws', token, mine, '0'), follow('sse', token, mine, '0'), follow('ws', token, mine), follow('sse', token, mine)];
    await gateway.untilSubscribers(baseline + subscriptions.length);
    for (let i = 0; i < 3; i += 1) await publish(theirs, 'k', `theirs-${i}`);
    const mineAfter = await publish(mine, 'k', 'mine-after');
    for (const [i, subscription] of subscriptions.entries()) {
      const want = i < 2 ? [mineBefore, mineAfter] : [mineAfter];
      expect(await events(subscription, want.length), String(i)).toEqual(want);
    }
    // A reader of the other project sees only that one.
    const other = await gateway.token({ sub: 'ps-reader-2', projects: [theirs] });
    const theirsAll = await events(follow('ws', other, theirs, '0'), 5);
    expect(theirsAll.every((e) => e.projectId === theirs)).toBe(true);
    expect(theirsAll.map((e) => e.data.data)).toEqual(['before-1', 'before-2', 'theirs-0', 'theirs-1', 'theirs-2']);
  });

  it('ends a subscription with UNAUTHENTICATED when its token expires, and delivers nothing after', async () => {
    const id = 'ps-expiry';
    const first = await publish(id, 'k', 'first');
    const baseline = await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
    const expiring = follow('ws', await gateway.token({ sub: 'ps-expiring', projects: [id], expiresIn: 2 }), id, '0');
    const control = follow('ws', await gateway.token({ sub: 'ps-control', projects: [id] }), id, '0');
    expect(await events(expiring, 1)).toEqual([first]);
    expect(await events(control, 1)).toEqual([first]);
    await gateway.untilSubscribers(baseline + 2);
    // The stream ends at expiry by itself (within ~2 s), with no event needed to notice it.
    expect(await refusal(expiring, 6000)).toEqual(['UNAUTHENTICATED']);
    await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === baseline + 1);
    const second = await publish(id, 'k', 'second');
    expect(await events(control, 1)).toEqual([second]);
  });

  it('ends SSE streams when the gateway shuts down, instead of holding the shutdown open', async () => {
    const own = await startGateway();
    let closed = false;
    try {
      const token = await own.token({ sub: 'ps-shutdown', roles: ['admin'] });
      const event = dataOf(await own.execute(PublishDataDocument, { projectId: 'ps-shutdown', dataKey: 'k', data: 1 }, token)).publishData;
      const sse = sseClient(own.url, token);
      cleanups.push(() => sse.dispose());
      const subscription = subscribe(sse, ProjectEventsDocument, { projectId: 'ps-shutdown', since: '0' });
      expect((await subscription.take(1)).map((r) => dataOf(r).projectEvents)).toEqual([event]);
      const pending = subscription.next(8000).catch(() => undefined);

      const started = Date.now();
      closed = true;
      await own.close();
      // The server force-closes lingering connections only after 10 s; a feed that ends lets it stop at once.
      expect(Date.now() - started).toBeLessThan(5000);
      await pending;
      expect(await subscription.ended).toBe(true);
    } finally {
      if (!closed) await own.close();
    }
  });

  it('refuses a malformed since with BAD_USER_INPUT', async () => {
    const id = 'ps-malformed';
    await publish(id, 'k', 1);
    for (const transport of ['ws', 'sse'] as const) {
      for (const since of ['abc', '1-', '-1-0', '1704067200000', '1.5-0', '99999999999999999999999-0', '']) {
        // Soft: one run reports every value that is let through. A refusal comes at once; 2 s is plenty.
        expect.soft(await refusal(follow(transport, admin, id, since), 2000), `${JSON.stringify(since)} over ${transport}`).toEqual(['BAD_USER_INPUT']);
      }
    }
  });
});

/** Reports every model call (`streamEvent.findMany`, `project.findUnique`, ...) made through this client. */
function spy(db: Db, onCall: (call: string) => void): Db {
  return new Proxy(db, {
    get(target, model) {
      const delegate: unknown = Reflect.get(target, model);
      if (typeof delegate === 'function') return delegate.bind(target);
      if (typeof model !== 'string' || model.startsWith('$') || typeof delegate !== 'object' || delegate === null) return delegate;
      return new Proxy(delegate, {
        get(d, method) {
          const fn: unknown = Reflect.get(d, method);
          if (typeof fn !== 'function') return fn;
          return (...args: unknown[]) => {
            onCall(`${model}.${String(method)}`);
            return fn.apply(d, args);
          };
        },
      });
    },
  });
}

/** Resolves with the promise's value, or rejects after `ms` so a test never hangs. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

/**
 * The projectEvents feed below the transports: when it reads, when it listens, and that it stops — things a
 * client cannot see but a server pays for.
 */
describe('projectEvents feed (the service itself)', () => {
  let store: Awaited<ReturnType<typeof freshDatabase>>;
  let database: Database;
  let config: Config;
  const admin: Viewer = { personId: 'feed-admin', roles: new Set(['admin', 'ingest']), projects: '*', expiresAt: null };
  const now = () => new Date();

  beforeAll(async () => {
    store = await freshDatabase();
    config = loadConfig({ DATABASE_URL: store.url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    database = await openDatabase(config.store);
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  /** A pubsub that counts its live subscribers, and a feed service whose every store call is reported. */
  function setup() {
    const listening = { count: 0 };
    const calls: string[] = [];
    const pubsub = createLocalPubSub({ counter: { inc: () => (listening.count += 1), dec: () => (listening.count -= 1) } });
    // Whether the feed has started its subscription (the local pubsub registers its listener on the first next()).
    const subscription = { started: false };
    const watched: PubSub = {
      ...pubsub,
      subscribe(topic, id, options) {
        const source = pubsub.subscribe(topic, id, options);
        const wrapper: typeof source = {
          next: (...args) => ((subscription.started = true), source.next(...args)),
          return: (value) => source.return!(value),
          throw: (error) => source.throw!(error),
          [Symbol.asyncIterator]: () => wrapper,
        };
        return wrapper;
      },
    };
    const observed = { ...database, db: spy(database.db, (call) => calls.push(`db:${call}`)), read: spy(database.read, (call) => calls.push(`read:${call}`)) };
    const feeds = createProjectFeeds({ database: observed, pubsub: watched, config, now });
    const writes = createProjectWrites({ database, pubsub, config, now });
    return { listening, subscription, calls, pubsub, feeds, writes };
  }
  async function until(ok: () => boolean, what: string) {
    const deadline = Date.now() + 5000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const history = (count: number, base: number): StreamEventInput[] =>
    Array.from({ length: count }, (_, i) => ({
      sequence: `${base + i}-0`,
      eventType: 'data_published',
      data: { dataKey: `k${i % 5}`, data: i, description: null },
    }));

  it('stops reading the backlog as soon as the subscriber leaves, and stops listening', async () => {
    const { listening, calls, feeds, writes } = setup();
    const id = 'feed-backlog';
    const events = history(2000, Date.UTC(2024, 0, 1));
    for (let i = 0; i < events.length; i += 1000) await writes.importEvents(admin, id, events.slice(i, i + 1000));

    const feed = await feeds.projectEvents(admin, id, '0');
    const first = await feed.next();
    expect(first.value?.sequence).toBe(events[0]!.sequence);
    expect(listening.count).toBe(1);
    await feed.return(undefined);
    // One page was read for the one event taken; the other three pages of the backlog never are.
    expect(calls.filter((call) => call.endsWith('streamEvent.findMany'))).toHaveLength(1);
    // Through the read connection (committed rows only).
    expect(calls).toEqual(['read:streamEvent.findMany']);
    await until(() => listening.count === 0, 'the feed stops listening');
  });

  it('starts listening before it reads the head, so an event committed just after subscribing is delivered', async () => {
    const { subscription, calls, feeds, writes } = setup();
    const id = 'feed-listen-first';
    await writes.importEvents(admin, id, history(3, Date.UTC(2024, 1, 1)));
    let listeningAtHeadRead: boolean | null = null;
    calls.push = (...entries: string[]) => {
      if (listeningAtHeadRead === null && entries.some((entry) => entry.endsWith('project.findUnique'))) listeningAtHeadRead = subscription.started;
      return Array.prototype.push.apply(calls, entries);
    };

    // Without since: from now on.
    const feed = await feeds.projectEvents(admin, id, null);
    const next = feed.next();
    await until(() => listeningAtHeadRead !== null, 'the head is read');
    expect(listeningAtHeadRead).toBe(true);
    expect(calls).toContain('read:project.findUnique');
    const published = await writes.publishData(admin, { projectId: id, dataKey: 'live', data: true });
    expect((await within(next, 5000, 'the live event')).value).toEqual(published);
    await feed.return(undefined);
  });

  it('ends when the notifications end (the pubsub closing at shutdown)', async () => {
    const { listening, pubsub, feeds, writes } = setup();
    const id = 'feed-shutdown';
    const event = await writes.publishData(admin, { projectId: id, dataKey: 'k', data: 1 });
    const feed = await feeds.projectEvents(admin, id, '0');
    expect((await feed.next()).value).toEqual(event);
    const pending = feed.next();
    await until(() => listening.count === 1, 'the feed listens');
    await pubsub.close();
    expect(await within(pending, 3000, 'the feed to end')).toEqual({ done: true, value: undefined });
  });
});
