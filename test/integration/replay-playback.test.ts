import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { developmentViewer } from '../../src/auth/viewer.js';
import { loadConfig } from '../../src/config.js';
import { MAX_PLAYBACK_SPEED } from '../../src/domain/playback-pacing.js';
import { createLocalPubSub } from '../../src/realtime/pubsub.js';
import { createServices, type Services } from '../../src/services/index.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { subscribe, wsClient } from '../support/clients.js';
import { freshDatabase } from '../support/databases.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { untilMetric } from '../support/metrics.js';

const TICKS = 12;
const AGENTS = ['a', 'b', 'c'];

type Frame =
  | { __typename: 'StateFrame'; tick: number; state: { tick: number; agents: { id: string }[] } }
  | { __typename: 'TransitionFrame'; tick: number; transition: { agentId: string; fromZone: string; toZone: string } }
  | { __typename: 'MarkerFrame'; tick: number; event: { id: string } }
  | { __typename: 'EndFrame'; finalTick: number; sessionId: string };

const PLAYBACK = parse(`subscription ($sessionId: ID!, $startTick: Int, $speed: Float) {
  replayPlayback(sessionId: $sessionId, startTick: $startTick, speed: $speed) {
    __typename
    ... on StateFrame { tick state { tick agents { id } } }
    ... on TransitionFrame { tick transition { agentId fromZone toZone } }
    ... on MarkerFrame { tick event { id } }
    ... on EndFrame { finalTick sessionId }
  }
}`) as TypedDocumentNode<{ replayPlayback: Frame }, { sessionId: string; startTick?: number; speed?: number }>;

const CHUNK = `query ($id: ID!, $start: Int!, $end: Int!, $transitions: Boolean) {
  replaySession(id: $id) { chunk(startTick: $start, endTick: $end, includeTransitions: $transitions) {
    startTick endTick chunkSize states { tick } transitions { tick agentId fromZone toZone reason fromPosition { x y } toPosition { x y } } eventsInRange { id tick }
  } }
}`;

// Agent "a" moves zone every 4 ticks; an event starts at tick 5.
const zoneOf = (tick: number) => ['neutral', 'supporters', 'skeptics'][Math.floor(tick / 4) % 3]!;

/** A gateway with the 12-tick run "pb" recorded, completed and loaded as a replay session. */
async function recordedReplay(env: Record<string, string>) {
  const gateway = await startGateway(env);
  const token = await gateway.token({ sub: 'rp-ingest', roles: ['ingest'] });
  dataOf(await gateway.execute(`mutation { recordSimulation(input: { nodeId: "pb", keyframeInterval: 3, agents: [{ id: "a" }, { id: "b" }, { id: "c" }] }) { nodeId } }`, {}, token));
  const ticks = Array.from({ length: TICKS }, (_, tick) => ({
    tick,
    agents: (tick === 0 ? AGENTS : ['a']).map((id) => ({ id, zone: id === 'a' ? zoneOf(tick) : 'neutral', stance: tick / TICKS, emotion: 0, influenceScore: 0.5 })),
    events: tick === 5 ? [{ id: 'news', type: 'media_event', durationTicks: 2 }] : [],
  }));
  dataOf(await gateway.execute(`mutation ($ticks: [TickInput!]!) { recordTicks(nodeId: "pb", ticks: $ticks) { totalTicks } }`, { ticks }, token));
  dataOf(await gateway.execute(`mutation { completeSimulation(nodeId: "pb") { status } }`, {}, token));
  const loaded = dataOf(await gateway.execute(`mutation { loadReplay(input: { nodeId: "pb" }) { id } }`, {}, token)) as { loadReplay: { id: string } };
  return { gateway, token, sessionId: loaded.loadReplay.id };
}

type Replay = Awaited<ReturnType<typeof recordedReplay>>;

/** Plays the session through a fresh graphql-ws client until the EndFrame. */
async function play(replay: Replay, speed: number, startTick = 0) {
  const client = wsClient(replay.gateway.url, replay.token);
  const started = performance.now();
  const stream = subscribe(client, PLAYBACK, { sessionId: replay.sessionId, speed, startTick });
  const frames: Frame[] = [];
  for (;;) {
    const frame = (await stream.next(20_000)).data!.replayPlayback;
    frames.push(frame);
    if (frame.__typename === 'EndFrame') break;
  }
  const elapsed = performance.now() - started;
  await stream.stop();
  await client.dispose();
  return { frames, elapsed };
}

describe('replay chunks and playback', () => {
  let replay: Replay;
  let gateway: TestGateway;
  let token: string;
  let sessionId: string;

  beforeAll(async () => {
    // 40 ticks per second at speed 1: fast enough for a suite, slow enough to measure pacing.
    replay = await recordedReplay({ PLAYBACK_TICKS_PER_SECOND: '40' });
    ({ gateway, token, sessionId } = replay);
  });
  afterAll(() => gateway?.close());

  it('returns a chunk of states, transitions with positions, and events in range', async () => {
    const { replaySession } = dataOf(await gateway.execute(CHUNK, { id: sessionId, start: 3, end: 8 }, token)) as {
      replaySession: { chunk: { chunkSize: number; states: { tick: number }[]; transitions: { tick: number; fromZone: string; toZone: string }[]; eventsInRange: { id: string }[] } };
    };
    expect(replaySession.chunk.chunkSize).toBe(6);
    expect(replaySession.chunk.states.map((s) => s.tick)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(replaySession.chunk.transitions.map((t) => [t.tick, t.fromZone, t.toZone])).toEqual([
      [4, 'neutral', 'supporters'],
      [8, 'supporters', 'skeptics'],
    ]);
    expect(replaySession.chunk.eventsInRange.map((e) => e.id)).toEqual(['news']);
    const without = dataOf(await gateway.execute(CHUNK, { id: sessionId, start: 3, end: 8, transitions: false }, token)) as { replaySession: { chunk: { transitions: unknown[] } } };
    expect(without.replaySession.chunk.transitions).toEqual([]);
  });

  it('refuses chunks out of range, reversed or over 100 ticks', async () => {
    expect(codesOf(await gateway.execute(CHUNK, { id: sessionId, start: 0, end: TICKS }, token))).toEqual(['INVALID_TICK']);
    expect(codesOf(await gateway.execute(CHUNK, { id: sessionId, start: 5, end: 4 }, token))).toEqual(['BAD_USER_INPUT']);
  });

  it('sends transition and marker frames before each state frame, in tick order, then one EndFrame', async () => {
    const { frames } = await play(replay, 50);
    const states = frames.filter((f) => f.__typename === 'StateFrame');
    expect(states.map((f) => f.tick)).toEqual(Array.from({ length: TICKS }, (_, i) => i));
    const order = frames.map((f) => (f.__typename === 'EndFrame' ? 'end' : `${f.tick}:${f.__typename[0]}`));
    expect(order.slice(order.indexOf('3:S'), order.indexOf('6:S') + 1)).toEqual(['3:S', '4:T', '4:S', '5:M', '5:S', '6:S']);
    expect(frames.at(-1)).toEqual({ __typename: 'EndFrame', finalTick: TICKS - 1, sessionId });
    const started = await play(replay, 50, 9);
    expect(started.frames.filter((f) => f.__typename === 'StateFrame').map((f) => f.tick)).toEqual([9, 10, 11]);
  });

  it('paces by speed: speed 1 takes far longer than speed 20 (a ratio, not an absolute time)', async () => {
    const slow = await play(replay, 1);
    const fast = await play(replay, 20);
    // 12 ticks at 40/s is ~275 ms of waits at speed 1 and ~14 ms at speed 20.
    expect(slow.elapsed / fast.elapsed).toBeGreaterThan(3);
  });

  it('stops promptly when the client unsubscribes', async () => {
    const client = wsClient(gateway.url, token);
    const stream = subscribe(client, PLAYBACK, { sessionId, speed: 0.05 });
    await stream.next();
    await untilMetric(gateway.url, 'replay_gateway_websocket_subscriptions', (v) => v === 1);
    await stream.stop();
    await untilMetric(gateway.url, 'replay_gateway_websocket_subscriptions', (v) => v === 0);
    await client.dispose();
  });

  it('refuses speed 0, a speed over the maximum and an unknown session', async () => {
    const client = wsClient(gateway.url, token);
    expect(codesOf(await subscribe(client, PLAYBACK, { sessionId, speed: 0 }).next())).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await subscribe(client, PLAYBACK, { sessionId, speed: MAX_PLAYBACK_SPEED + 1 }).next())).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await subscribe(client, PLAYBACK, { sessionId: 'nope' }).next())).toEqual(['SESSION_NOT_FOUND']);
    await client.dispose();
  });
});

describe('playback at the maximum speed', () => {
  let replay: Replay;

  // A tick every 1,000 s at speed 1: paced, even speed 1000 would wait a second between ticks.
  beforeAll(async () => {
    replay = await recordedReplay({ PLAYBACK_TICKS_PER_SECOND: '0.001' });
  });
  afterAll(() => replay?.gateway.close());

  it('plays unpaced, whatever the configured base rate', async () => {
    const { frames, elapsed } = await play(replay, MAX_PLAYBACK_SPEED);
    expect(frames.filter((f) => f.__typename === 'StateFrame')).toHaveLength(TICKS);
    expect(frames.at(-1)?.__typename).toBe('EndFrame');
    // Paced, its 11 gaps between ticks would take 11 s.
    expect(elapsed).toBeLessThan(5_000);
  });

  it('leaves the event loop to other clients between ticks', async () => {
    const { gateway, token } = replay;
    const ticks = Array.from({ length: 1000 }, (_, tick) => ({ tick, agents: [{ id: 'a', zone: 'neutral', stance: tick / 1000, emotion: 0, influenceScore: 0 }] }));
    dataOf(await gateway.execute(`mutation { recordSimulation(input: { nodeId: "long-pb", agents: [{ id: "a" }] }) { nodeId } }`, {}, token));
    dataOf(await gateway.execute(`mutation ($ticks: [TickInput!]!) { recordTicks(nodeId: "long-pb", ticks: $ticks) { totalTicks } }`, { ticks }, token));
    const loaded = dataOf(await gateway.execute(`mutation { loadReplay(input: { nodeId: "long-pb" }) { id } }`, {}, token)) as { loadReplay: { id: string } };
    const client = wsClient(gateway.url, token);
    const stream = subscribe(client, PLAYBACK, { sessionId: loaded.loadReplay.id, speed: MAX_PLAYBACK_SPEED });
    await stream.next();
    // Asked once playback is under way: answered before it ends, not after its last frame.
    let answeredAt = Infinity;
    const health = fetch(new URL('/health', gateway.url)).then((response) => {
      answeredAt = performance.now();
      return response.status;
    });
    let frame = (await stream.next()).data!.replayPlayback;
    while (frame.__typename !== 'EndFrame') frame = (await stream.next()).data!.replayPlayback;
    const endedAt = performance.now();
    expect(await health).toBe(200);
    expect(answeredAt).toBeLessThan(endedAt);
    await stream.stop();
    await client.dispose();
  });
});

describe('a long playback keeps its session alive', () => {
  const MINUTE = 60_000;
  let store: Awaited<ReturnType<typeof freshDatabase>>;
  let database: Database;
  let clock = new Date(Date.UTC(2026, 0, 1));
  let services: Services;

  beforeAll(async () => {
    store = await freshDatabase();
    const config = loadConfig({ DATABASE_URL: store.url, LOG_LEVEL: 'silent', REPLAY_SESSION_TTL_MINUTES: '30' });
    database = await openDatabase(config.store);
    services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => clock });
    await services.recordSimulation(developmentViewer, { nodeId: 'long', agents: [{ id: 'a' }] });
    const ticks = Array.from({ length: 45 }, (_, tick) => ({ tick, agents: [{ id: 'a', zone: 'neutral', stance: tick / 45, emotion: 0, influenceScore: 0 }] }));
    await services.recordTicks(developmentViewer, 'long', ticks);
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  it('refreshes its last use twice per TTL while it plays, not at every chunk read', async () => {
    const { session } = await services.loadReplay(developmentViewer, { nodeId: 'long' });
    const lastUsedAt = async () => (await database.db.replaySession.findUnique({ where: { id: session.id } }))!.lastUsedAt.getTime();
    const frames = await services.replayPlayback(developmentViewer, session.id, 0, MAX_PLAYBACK_SPEED);
    const nextState = async () => {
      for (;;) {
        const frame = (await frames.next()).value as { kind: string; tick: number };
        if (frame.kind === 'state') return frame.tick;
      }
    };
    const started = clock.getTime();
    // Playback reads 20 ticks at a time; a minute between two reads is no reason to write.
    while ((await nextState()) < 19);
    clock = new Date(started + MINUTE);
    expect(await nextState()).toBe(20);
    expect(await lastUsedAt()).toBe(started);
    // Half the TTL on, the next read refreshes it: the session outlives its TTL counted from the start.
    while ((await nextState()) < 39);
    clock = new Date(started + 16 * MINUTE);
    expect(await nextState()).toBe(40);
    expect(await lastUsedAt()).toBe(started + 16 * MINUTE);
    await frames.return(undefined);
  });
});
