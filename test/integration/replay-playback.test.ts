import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribe, wsClient } from '../support/clients.js';
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

describe('replay chunks and playback', () => {
  let gateway: TestGateway;
  let token: string;
  let sessionId: string;

  beforeAll(async () => {
    // 40 ticks per second at speed 1: fast enough for a suite, slow enough to measure pacing.
    gateway = await startGateway({ PLAYBACK_TICKS_PER_SECOND: '40' });
    token = await gateway.token({ sub: 'rp-ingest', roles: ['ingest'] });
    dataOf(await gateway.execute(`mutation { recordSimulation(input: { nodeId: "pb", keyframeInterval: 3, agents: [{ id: "a" }, { id: "b" }, { id: "c" }] }) { nodeId } }`, {}, token));
    const ticks = Array.from({ length: TICKS }, (_, tick) => ({
      tick,
      agents: (tick === 0 ? AGENTS : ['a']).map((id) => ({ id, zone: id === 'a' ? zoneOf(tick) : 'neutral', stance: tick / TICKS, emotion: 0, influenceScore: 0.5 })),
      events: tick === 5 ? [{ id: 'news', type: 'media_event', durationTicks: 2 }] : [],
    }));
    dataOf(await gateway.execute(`mutation ($ticks: [TickInput!]!) { recordTicks(nodeId: "pb", ticks: $ticks) { totalTicks } }`, { ticks }, token));
    dataOf(await gateway.execute(`mutation { completeSimulation(nodeId: "pb") { status } }`, {}, token));
    const loaded = dataOf(await gateway.execute(`mutation { loadReplay(input: { nodeId: "pb" }) { id } }`, {}, token)) as { loadReplay: { id: string } };
    sessionId = loaded.loadReplay.id;
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

  const play = async (speed: number, startTick = 0) => {
    const client = wsClient(gateway.url, token);
    const started = performance.now();
    const stream = subscribe(client, PLAYBACK, { sessionId, speed, startTick });
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
  };

  it('sends transition and marker frames before each state frame, in tick order, then one EndFrame', async () => {
    const { frames } = await play(50);
    const states = frames.filter((f) => f.__typename === 'StateFrame');
    expect(states.map((f) => f.tick)).toEqual(Array.from({ length: TICKS }, (_, i) => i));
    const order = frames.map((f) => (f.__typename === 'EndFrame' ? 'end' : `${f.tick}:${f.__typename[0]}`));
    expect(order.slice(order.indexOf('3:S'), order.indexOf('6:S') + 1)).toEqual(['3:S', '4:T', '4:S', '5:M', '5:S', '6:S']);
    expect(frames.at(-1)).toEqual({ __typename: 'EndFrame', finalTick: TICKS - 1, sessionId });
    const started = await play(50, 9);
    expect(started.frames.filter((f) => f.__typename === 'StateFrame').map((f) => f.tick)).toEqual([9, 10, 11]);
  });

  it('paces by speed: speed 1 takes far longer than speed 20 (a ratio, not an absolute time)', async () => {
    const slow = await play(1);
    const fast = await play(20);
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

  it('refuses speed 0 and an unknown session', async () => {
    const client = wsClient(gateway.url, token);
    expect(codesOf(await subscribe(client, PLAYBACK, { sessionId, speed: 0 }).next())).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await subscribe(client, PLAYBACK, { sessionId: 'nope' }).next())).toEqual(['SESSION_NOT_FOUND']);
    await client.dispose();
  });
});
