import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_PLAYBACK_SPEED } from '../../src/domain/playback-pacing.js';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { metricValue, untilMetric } from '../support/metrics.js';
import { acked, rawWs, type RawWs, type WireMessage } from '../support/raw-ws.js';

/**
 * The edges of the graphql-transport-ws protocol (node_modules/graphql-ws/PROTOCOL.md) as the gateway's own
 * implementation (src/server/graphql-ws.ts, src/server/subscription-fanout.ts) speaks it, seen from a raw socket:
 * every close code the protocol defines, ping/pong, single results, completion from either side, and a slow
 * client on a pulled source being slowed rather than cut off.
 */

const WS_CONNECTIONS = 'replay_gateway_websocket_connections';
const WS_SUBSCRIPTIONS = 'replay_gateway_websocket_subscriptions';
const PUBSUB_SUBSCRIBERS = 'replay_gateway_pubsub_subscribers';
/** src/server/graphql-ws.ts INIT_WAIT_MS: not configurable, so the 4408 test waits for it for real. */
const INIT_WAIT_MS = 10_000;

const CONTEXT_UPDATED = 'subscription ($p: ID!) { contextUpdated(personId: $p) { personId trace { id } } }';
const UPDATE_CONTEXT = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { trace { id personId } } }`;
const PLAYBACK = `subscription ($sessionId: ID!, $speed: Float) {
  replayPlayback(sessionId: $sessionId, speed: $speed) {
    __typename
    ... on StateFrame { tick state { tick agents { id zone stance emotion influenceScore position { x y } } } }
    ... on TransitionFrame { tick }
    ... on MarkerFrame { tick }
    ... on EndFrame { finalTick sessionId }
  }
}`;

type Frame = { __typename: 'StateFrame'; tick: number; state: { tick: number; agents: unknown[] } } | { __typename: 'EndFrame'; finalTick: number; sessionId: string } | { __typename: 'TransitionFrame' | 'MarkerFrame'; tick: number };

const errorsOf = (message: WireMessage) => message.payload as { message: string; extensions?: { code?: string } }[];
const ofId = (ws: RawWs, id: string) => ws.messages.filter((m) => m.id === id);
const typesOf = (ws: RawWs, id: string) => ofId(ws, id).map((m) => m.type);
const traceIdsOf = (ws: RawWs, id: string) =>
  ofId(ws, id)
    .filter((m) => m.type === 'next')
    .map((m) => (m.payload as { data: { contextUpdated: { trace: { id: string } } } }).data.contextUpdated.trace.id);
const framesOf = (ws: RawWs, id: string) =>
  ofId(ws, id)
    .filter((m) => m.type === 'next')
    .map((m) => (m.payload as { data: { replayPlayback: Frame } }).data.replayPlayback);

/** Resolves with whether `promise` settled within `ms` (a bounded look, for "nothing happened" assertions). */
const settlesWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('graphql-transport-ws protocol', () => {
  let gateway: TestGateway;
  let person: string;
  let ingest: string;
  /** Opened before every test and never initialised: the last test sees it closed with 4408. */
  let idle: RawWs;
  let idleOpenedAt: number;
  /** Initialised at once, alongside `idle`: the init timer must not close it. */
  let early: RawWs;
  const sockets: RawWs[] = [];

  const open = async () => {
    const ws = await rawWs(gateway.url);
    sockets.push(ws);
    return ws;
  };
  /** An acknowledged connection as the person "ws-person". */
  const ready = async (token = person) => {
    const ws = await open();
    ws.init(token);
    await acked(ws);
    return ws;
  };
  const update = async (personId: string, data: Record<string, unknown>) =>
    dataOf(
      (await gateway.execute(UPDATE_CONTEXT, { input: { personId, sessionId: 's1', sources: [{ source: 'test', data }] } }, ingest)) as {
        data?: { updateContext: { trace: { id: string } } };
      },
    ).updateContext.trace.id;

  /** Records a completed run (tick 0 reports every agent, later ticks one changed agent) and loads it as a replay. */
  async function recordReplay(nodeId: string, agentCount: number, tickCount: number) {
    const agents = Array.from({ length: agentCount }, (_, i) => ({ id: `${nodeId}-agent-${i}` }));
    const state = (id: string, tick: number) => ({ id, zone: 'neutral', stance: (tick % 100) / 100, emotion: 0.25, influenceScore: 0.5 });
    dataOf(await gateway.execute(`mutation ($input: RecordSimulationInput!) { recordSimulation(input: $input) { nodeId } }`, { input: { nodeId, agents } }, ingest));
    const ticks = Array.from({ length: tickCount }, (_, tick) => ({
      tick,
      agents: tick === 0 ? agents.map((agent) => state(agent.id, 0)) : [state(agents[tick % agentCount]!.id, tick)],
    }));
    dataOf(await gateway.execute(`mutation ($nodeId: ID!, $ticks: [TickInput!]!) { recordTicks(nodeId: $nodeId, ticks: $ticks) { totalTicks } }`, { nodeId, ticks }, ingest));
    dataOf(await gateway.execute(`mutation ($nodeId: ID!) { completeSimulation(nodeId: $nodeId) { status } }`, { nodeId }, ingest));
    const loaded = dataOf(await gateway.execute(`mutation ($nodeId: ID!) { loadReplay(input: { nodeId: $nodeId }) { id } }`, { nodeId }, ingest)) as {
      loadReplay: { id: string };
    };
    return loaded.loadReplay.id;
  }

  beforeAll(async () => {
    gateway = await startGateway();
    person = await gateway.token({ sub: 'ws-person' });
    ingest = await gateway.token({ sub: 'ws-ingest', roles: ['ingest'] });
    idleOpenedAt = performance.now();
    [idle, early] = await Promise.all([rawWs(gateway.url), rawWs(gateway.url)]);
    early.init(person);
    await acked(early);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((ws) => ws.close()));
    // No test leaves a subscription behind (the two long-lived sockets hold none).
    await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === 0);
    await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 0);
  });
  afterAll(async () => {
    await Promise.all([idle, early].map((ws) => ws?.close()));
    await gateway?.close();
  });

  describe('close codes', () => {
    it('closes with 4400 on a message that is not JSON', async () => {
      const ws = await open();
      ws.socket.send('{"type": "connection_init"');
      expect(await ws.closed).toEqual({ code: 4400, reason: 'Invalid message received' });
    });

    it('closes with 4400 on a message of an unknown type, even after the ack', async () => {
      const ws = await ready();
      ws.send({ type: 'subscribe_please', id: '1' });
      const { code } = await ws.closed;
      expect(code).toBe(4400);
      expect(ofId(ws, '1')).toEqual([]);
    });

    it.each([
      ['a JSON array', '[]'],
      ['a JSON string', '"ping"'],
      ['a subscribe without an id', JSON.stringify({ type: 'subscribe', payload: { query: '{ __typename }' } })],
      ['a subscribe without a query', JSON.stringify({ type: 'subscribe', id: '1', payload: {} })],
      ['a complete without an id', JSON.stringify({ type: 'complete' })],
    ])('closes with 4400 on %s', async (_, text) => {
      const ws = await ready();
      ws.socket.send(text);
      expect((await ws.closed).code).toBe(4400);
    });

    it('closes with 4401 Unauthorized on a subscribe before connection_init', async () => {
      const ws = await open();
      ws.subscribe('1', '{ __typename }');
      expect(await ws.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
      expect(ws.messages).toEqual([]);
    });

    it('closes with 4401 on a subscribe sent after connection_init but before its connection_ack', async () => {
      const ws = await open();
      // Both frames in one TCP write, so the server reads them together: the subscribe is handled while the
      // token is still being verified (asynchronously), i.e. before the connection is acknowledged.
      const tcp = (ws.socket as unknown as { _socket: Socket })._socket;
      tcp.cork();
      ws.init(person);
      ws.subscribe('1', '{ __typename }');
      tcp.uncork();
      expect(await ws.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
      expect(ofId(ws, '1')).toEqual([]);
    });

    it('closes with 4406 a connection that asks for no subprotocol', async () => {
      const socket = new WebSocket(gateway.url.replace(/^http/, 'ws'));
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
      );
      socket.on('error', () => undefined);
      expect(await closed).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
    });

    it('refuses an unsupported subprotocol at the handshake (handleProtocols selects none), and picks graphql-transport-ws among several', async () => {
      // handleProtocols returns false for ["graphql-ws"], so the 101 carries no Sec-WebSocket-Protocol and the
      // client (which asked for one) fails the handshake itself; the server's 4406 never reaches it.
      const legacy = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-ws');
      const failure = await new Promise<Error>((resolve, reject) => {
        legacy.on('error', resolve);
        legacy.on('open', () => reject(new Error('opened with an unsupported subprotocol')));
      });
      expect(failure.message).toBe('Server sent no subprotocol');

      const both = new WebSocket(gateway.url.replace(/^http/, 'ws'), ['graphql-ws', 'graphql-transport-ws']);
      await new Promise((resolve, reject) => both.on('open', resolve).on('error', reject));
      expect(both.protocol).toBe('graphql-transport-ws');
      both.close(1000);
      await new Promise((resolve) => both.on('close', resolve));
      // Neither left a connection counted (only the two long-lived sockets remain, plus none of this test's).
      await untilMetric(gateway.url, WS_CONNECTIONS, (v) => v === 2);
    });

    it('closes with 4409 a subscribe whose id is still in use, and accepts the id again once it completed', async () => {
      const ws = await ready();
      ws.subscribe('dup', CONTEXT_UPDATED, { p: 'ws-person' });
      await gateway.untilSubscribers(1);
      ws.subscribe('dup', CONTEXT_UPDATED, { p: 'ws-person' });
      expect(await ws.closed).toEqual({ code: 4409, reason: 'Subscriber for dup already exists' });

      // An id freed by the server's complete (a query's) may be used again at once.
      const other = await ready();
      other.subscribe('q', '{ __typename }');
      await other.waitFor((m) => m.id === 'q' && m.type === 'complete');
      other.subscribe('q', '{ __typename }');
      await other.waitFor((m) => m.id === 'q' && m.type === 'complete' && typesOf(other, 'q').length === 4);
      expect(typesOf(other, 'q')).toEqual(['next', 'complete', 'next', 'complete']);
      expect(other.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('closes with 4429 on a second connection_init, after the ack', async () => {
      const ws = await ready();
      ws.init(person);
      expect(await ws.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
    });

    it('closes with 4429 on a second connection_init sent before the first was acknowledged', async () => {
      const ws = await open();
      ws.init(person);
      ws.init(person);
      expect(await ws.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
    });
  });

  describe('ping and pong', () => {
    it('answers ping with pong echoing its payload, before connection_init too', async () => {
      const ws = await open();
      ws.send({ type: 'ping', payload: { n: 1, nested: { ok: true } } });
      expect(await ws.waitFor((m) => m.type === 'pong')).toEqual({ type: 'pong', payload: { n: 1, nested: { ok: true } } });
      ws.init(person);
      await acked(ws);
      ws.send({ type: 'ping' });
      await ws.waitFor((m) => m.type === 'pong' && ws.messages.filter((p) => p.type === 'pong').length === 2);
      expect(ws.messages).toEqual([{ type: 'pong', payload: { n: 1, nested: { ok: true } } }, { type: 'connection_ack' }, { type: 'pong' }]);
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('accepts a pong from the client silently (unsolicited, with or without payload)', async () => {
      const ws = await ready();
      ws.send({ type: 'pong' });
      ws.send({ type: 'pong', payload: { any: 'thing' } });
      // A round trip after them: if either had been answered or refused, it would show up first.
      ws.subscribe('after', '{ __typename }');
      await ws.waitFor((m) => m.id === 'after' && m.type === 'complete');
      expect(ws.messages).toEqual([
        { type: 'connection_ack' },
        { id: 'after', type: 'next', payload: { data: { __typename: 'Query' } } },
        { id: 'after', type: 'complete' },
      ]);
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('operations', () => {
    it('answers a query with next then complete', async () => {
      const ws = await ready();
      ws.subscribe('q', 'query Q { __typename }');
      await ws.waitFor((m) => m.id === 'q' && m.type === 'complete');
      expect(ofId(ws, 'q')).toEqual([
        { id: 'q', type: 'next', payload: { data: { __typename: 'Query' } } },
        { id: 'q', type: 'complete' },
      ]);
    });

    it('answers a mutation with next then complete', async () => {
      const ws = await ready(ingest);
      ws.send({ id: 'm', type: 'subscribe', payload: { query: UPDATE_CONTEXT, variables: { input: { personId: 'ws-mut', sessionId: 's1', sources: [{ source: 'test', data: { a: 1 } }] } } } });
      await ws.waitFor((m) => m.id === 'm' && m.type === 'complete');
      expect(typesOf(ws, 'm')).toEqual(['next', 'complete']);
      const result = ofId(ws, 'm')[0]!.payload as { data?: { updateContext: { trace: { id: string; personId: string } } }; errors?: unknown };
      expect(result.errors).toBeUndefined();
      expect(result.data?.updateContext.trace.personId).toBe('ws-mut');
      expect(result.data?.updateContext.trace.id).toEqual(expect.any(String));
    });

    it('answers an invalid query with error (BAD_USER_INPUT, no complete) and keeps the connection open', async () => {
      const ws = await ready();
      ws.subscribe('bad', '{ noSuchField }');
      ws.subscribe('syntax', '{');
      for (const id of ['bad', 'syntax']) {
        const message = await ws.waitFor((m) => m.id === id);
        expect(message.type).toBe('error');
        expect(errorsOf(message).map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      }
      ws.subscribe('good', '{ __typename }');
      await ws.waitFor((m) => m.id === 'good' && m.type === 'complete');
      // `error` ends the operation: no complete follows it, and the id is free again.
      expect(typesOf(ws, 'bad')).toEqual(['error']);
      expect(typesOf(ws, 'syntax')).toEqual(['error']);
      ws.subscribe('bad', '{ __typename }');
      await ws.waitFor((m) => m.id === 'bad' && m.type === 'complete');
      expect(typesOf(ws, 'bad')).toEqual(['error', 'next', 'complete']);
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('stops a subscription on the client\'s complete: no next for its id afterwards, and no reply to it', async () => {
      const ws = await ready();
      ws.subscribe('stopped', CONTEXT_UPDATED, { p: 'ws-person' });
      ws.subscribe('barrier', CONTEXT_UPDATED, { p: 'ws-person' });
      await gateway.untilSubscribers(2);
      const first = await update('ws-person', { step: 1 });
      await ws.waitFor((m) => m.id === 'stopped' && m.type === 'next');
      await ws.waitFor((m) => m.id === 'barrier' && m.type === 'next');

      ws.complete('stopped');
      await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === 1);
      await untilMetric(gateway.url, PUBSUB_SUBSCRIBERS, (v) => v === 1);
      const second = await update('ws-person', { step: 2 });
      // The barrier on the same socket gets the second event: had "stopped" still listened, its copy would be there.
      await ws.waitFor((m) => m.id === 'barrier' && traceIdsOf(ws, 'barrier').length === 2);
      expect(traceIdsOf(ws, 'barrier')).toEqual([first, second]);
      expect(traceIdsOf(ws, 'stopped')).toEqual([first]);
      expect(typesOf(ws, 'stopped')).toEqual(['next']);

      // The id is free again: a new subscription under it gets only what comes next.
      ws.subscribe('stopped', CONTEXT_UPDATED, { p: 'ws-person' });
      await gateway.untilSubscribers(2);
      const third = await update('ws-person', { step: 3 });
      await ws.waitFor((m) => m.id === 'stopped' && traceIdsOf(ws, 'stopped').length === 2);
      expect(traceIdsOf(ws, 'stopped')).toEqual([first, third]);
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('ignores a complete for an id it does not know', async () => {
      const ws = await ready();
      ws.complete('never-started');
      ws.subscribe('q', '{ __typename }');
      await ws.waitFor((m) => m.id === 'q' && m.type === 'complete');
      expect(ws.messages.map((m) => m.type)).toEqual(['connection_ack', 'next', 'complete']);
    });
  });

  describe('subscriptions whose source ends', () => {
    it('completes a replayPlayback once its EndFrame is sent, and the connection stays open', async () => {
      const sessionId = await recordReplay('ws-short', 3, 12);
      const ws = await ready(ingest);
      ws.subscribe('play', PLAYBACK, { sessionId, speed: MAX_PLAYBACK_SPEED });
      await ws.waitFor((m) => m.id === 'play' && m.type === 'complete');
      const frames = framesOf(ws, 'play');
      expect(frames.filter((f) => f.__typename === 'StateFrame').map((f) => f.tick)).toEqual(Array.from({ length: 12 }, (_, i) => i));
      expect(frames.at(-1)).toEqual({ __typename: 'EndFrame', finalTick: 11, sessionId });
      const types = typesOf(ws, 'play');
      expect(types.at(-1)).toBe('complete');
      expect(types.slice(0, -1).every((type) => type === 'next')).toBe(true);
      await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === 0);
      ws.subscribe('play', '{ __typename }');
      await ws.waitFor((m) => m.id === 'play' && m.type === 'complete' && typesOf(ws, 'play').filter((t) => t === 'complete').length === 2);
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('a slow client on a pulled source', () => {
    // 400 agents in every StateFrame (~50 KB each) × 300 ticks: ~15 MB, far more than the kernel's socket
    // buffers hold while the client does not read.
    const AGENTS = 400;
    const TICKS = 300;

    it('is slowed, not cut off: every frame arrives in order through the EndFrame, and no 1008', async () => {
      const sessionId = await recordReplay('ws-big', AGENTS, TICKS);
      const ws = await ready(ingest);
      ws.subscribe('play', PLAYBACK, { sessionId, speed: MAX_PLAYBACK_SPEED });
      await ws.waitFor((m) => m.id === 'play' && m.type === 'next', 20_000);
      ws.pause();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // Still delivering after 2 s unread: the playback waits for the socket (had it sent everything into the
      // buffers, or been cut off, the subscription would be gone).
      expect(await metricValue(gateway.url, WS_SUBSCRIPTIONS), 'the playback did not wait for the paused client').toBe(1);
      const receivedWhilePaused = framesOf(ws, 'play').length;
      expect(receivedWhilePaused).toBeLessThan(TICKS);
      ws.resume();

      // Ends with the server's complete, not with a close (1008 or any other) first.
      const outcome = await Promise.race([
        ws.waitFor((m) => m.id === 'play' && (m.type === 'complete' || m.type === 'error'), 25_000).then((m) => ({ ended: m.type })),
        ws.closed.then((closed) => ({ closed })),
      ]);
      expect(outcome).toEqual({ ended: 'complete' });

      const frames = framesOf(ws, 'play');
      expect(frames).toHaveLength(TICKS + 1);
      const states = frames.slice(0, -1) as Extract<Frame, { __typename: 'StateFrame' }>[];
      expect(states.map((f) => f.__typename === 'StateFrame' && f.tick)).toEqual(Array.from({ length: TICKS }, (_, i) => i));
      expect(states.every((f) => f.state.tick === f.tick && f.state.agents.length === AGENTS)).toBe(true);
      expect(frames.at(-1)).toEqual({ __typename: 'EndFrame', finalTick: TICKS - 1, sessionId });
      expect(ws.messages.filter((m) => m.type === 'error')).toEqual([]);
      expect(await settlesWithin(ws.closed, 100)).toBe(false);
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    }, 40_000);
  });

  describe('initialisation timeout', () => {
    it(`closes with 4408 a connection that sent no connection_init within ${INIT_WAIT_MS / 1000} s, and not one that did`, async () => {
      // `idle` was opened in beforeAll, so the earlier tests used up most of the wait.
      const { code, reason } = await idle.closed;
      const after = performance.now() - idleOpenedAt;
      expect({ code, reason }).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
      expect(after).toBeGreaterThan(INIT_WAIT_MS - 500);
      expect(idle.messages).toEqual([]);
      // Opened at the same moment and initialised at once: still open, and still answering.
      expect(early.socket.readyState).toBe(WebSocket.OPEN);
      early.subscribe('still', '{ __typename }');
      await early.waitFor((m) => m.id === 'still' && m.type === 'complete');
    }, INIT_WAIT_MS + 5_000);
  });
});
