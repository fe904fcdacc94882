import { request } from 'node:http';
import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionDocument, SessionsDocument, TracesDocument, UpdateContextDocument } from '../generated/graphql.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { metricValue, untilMetric } from '../support/metrics.js';
import { acked, rawWs, type RawWs, type WireMessage } from '../support/raw-ws.js';
import { signToken } from '../support/tokens.js';

/**
 * Every protective limit, exercised against a real gateway with tight settings: page size, body size, query
 * depth/aliases/cost (HTTP and graphql-ws alike), operations per WebSocket connection, slow subscribers, bad
 * tokens at connect, and tokens that expire while a subscription is open.
 */

const LIMITS = {
  MAX_PAGE_SIZE: '5',
  MAX_BODY_BYTES: '16384',
  MAX_QUERY_DEPTH: '6',
  MAX_ALIASES: '5',
  MAX_QUERY_COST: '300',
  MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
  SUBSCRIBER_BUFFER_EVENTS: '2',
};

const SUBSCRIBERS = 'replay_gateway_pubsub_subscribers';
const WS_CONNECTIONS = 'replay_gateway_websocket_connections';
const WS_SUBSCRIPTIONS = 'replay_gateway_websocket_subscriptions';

const CONTEXT_UPDATED = 'subscription ($p: ID!) { contextUpdated(personId: $p) { trace { id } } }';
/** Depth 7: contextUpdated > trace > session > traces > nodes > session > personId. */
const TOO_DEEP_SUBSCRIPTION =
  'subscription { contextUpdated(personId: "alice") { trace { session { traces { nodes { session { personId } } } } } } }';
const TOO_DEEP_QUERY = '{ traces { edges { node { session { traces { nodes { session { personId } } } } } } } }';
/** Six aliases where five are allowed. */
const TOO_MANY_ALIASES_QUERY = `{ ${[1, 2, 3, 4, 5, 6].map((n) => `t${n}: trace(id: "${n}") { id }`).join(' ')} }`;
const TOO_MANY_ALIASES_SUBSCRIPTION = `subscription { contextUpdated(personId: "alice") { ${[1, 2, 3, 4, 5, 6].map((n) => `p${n}: personId`).join(' ')} } }`;
/** Within depth and alias limits, but ~200 selections at depth 3-4 cost far more than 300. */
const fields = 'id personId sessionId eventType timestamp receivedAt eventData contextSnapshot replayOfId replaySource';
const TOO_COSTLY_QUERY = `{ traces { nodes { ${Array(20).fill(fields).join(' ')} } } }`;
const TOO_COSTLY_SUBSCRIPTION = `subscription { contextUpdated(personId: "alice") { trace { ${Array(20).fill(fields).join(' ')} } } }`;

const errorsOf = (message: WireMessage) => message.payload as { message: string; extensions?: { code?: string } }[];
const nextIds = (ws: RawWs, id: string) =>
  ws.messages
    .filter((m) => m.type === 'next' && m.id === id)
    .map((m) => (m.payload as { data?: { contextUpdated?: { trace: { id: string } } } }).data?.contextUpdated?.trace.id);

describe('limits', () => {
  let gateway: TestGateway;
  let ingest: string;
  let admin: string;
  let alice: string;
  const sockets: RawWs[] = [];
  const open = async (token: string | null) => {
    const ws = await rawWs(gateway.url);
    sockets.push(ws);
    ws.init(token);
    return ws;
  };
  const update = (personId: string, sessionId: string, data: Record<string, unknown>, token = ingest) =>
    gateway.execute(UpdateContextDocument, { input: { personId, sessionId, sources: [{ source: 'test', data }], storeSnapshot: false } }, token);

  beforeAll(async () => {
    gateway = await startGateway(LIMITS);
    ingest = await gateway.token({ sub: 'ingest-service', roles: ['ingest'] });
    admin = await gateway.token({ sub: 'root', roles: ['admin'] });
    alice = await gateway.token({ sub: 'alice' });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((ws) => ws.close()));
    // Each test starts with no live subscriber left over from the one before, and the gauges add up.
    await untilMetric(gateway.url, SUBSCRIBERS, (v) => v === 0);
    await untilMetric(gateway.url, WS_CONNECTIONS, (v) => v === 0);
    await untilMetric(gateway.url, WS_SUBSCRIPTIONS, (v) => v === 0);
    expect(await metricValue(gateway.url, WS_SUBSCRIPTIONS)).toBe(0);
  });
  afterAll(() => gateway?.close());

  describe('page size (MAX_PAGE_SIZE=5)', () => {
    beforeAll(async () => {
      for (let i = 0; i < 6; i += 1) dataOf(await update('pager', 'p1', { i }));
    });

    it('accepts first up to the cap and rejects more with BAD_USER_INPUT, never clamping', async () => {
      const five = dataOf(await gateway.execute(TracesDocument, { filter: { personId: 'pager' }, first: 5 }, admin));
      expect(five.traces.nodes).toHaveLength(5);
      expect(five.traces.pageInfo.hasNextPage).toBe(true);

      const six = await gateway.execute(TracesDocument, { filter: { personId: 'pager' }, first: 6 }, admin);
      expect(codesOf(six)).toEqual(['BAD_USER_INPUT']);
      expect(six.data ?? null).toBeNull();
      expect(six.errors?.[0]?.message).toMatch(/5/);
    });

    it('serves a request that omits first when the cap is below the default page size of 50', async () => {
      // `first` defaults to 50; with MAX_PAGE_SIZE=5 the default must not turn every plain query into an error.
      const plain = dataOf(await gateway.execute(TracesDocument, { filter: { personId: 'pager' } }, admin));
      expect(plain.traces.nodes).toHaveLength(5);
      expect(plain.traces.pageInfo.hasNextPage).toBe(true);
    });

    it('rejects a negative first', async () => {
      const negative = await gateway.execute(TracesDocument, { filter: { personId: 'pager' }, first: -1 }, admin);
      expect(codesOf(negative)).toEqual(['BAD_USER_INPUT']);
    });

    it('applies the cap to every connection: nested session traces and sessions', async () => {
      const nested = await gateway.execute(SessionDocument, { personId: 'pager', sessionId: 'p1', first: 6 }, admin);
      expect(codesOf(nested)).toEqual(['BAD_USER_INPUT']);
      const sessions = await gateway.execute(SessionsDocument, { personId: 'pager', first: 6 }, admin);
      expect(codesOf(sessions)).toEqual(['BAD_USER_INPUT']);
      const ok = dataOf(await gateway.execute(SessionDocument, { personId: 'pager', sessionId: 'p1', first: 5 }, admin));
      expect(ok.session?.traces.nodes).toHaveLength(5);
    });

    it('applies the cap over graphql-ws too', async () => {
      const ws = await open(admin);
      await acked(ws);
      ws.subscribe('q', print(TracesDocument), { filter: { personId: 'pager' }, first: 6 });
      const result = await ws.waitFor((m) => m.id === 'q' && (m.type === 'next' || m.type === 'error'));
      const errors = result.type === 'next' ? (result.payload as { errors: { extensions: { code: string } }[] }).errors : errorsOf(result);
      expect(errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    });
  });

  describe('request body (MAX_BODY_BYTES=16384)', () => {
    const postRaw = (body: string, headers: Record<string, string>) =>
      new Promise<{ status: number; contentType: string | undefined; body: string }>((resolve, reject) => {
        const url = new URL(gateway.url);
        const req = request(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ingest}`, ...headers } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const mutationBody = (personId: string, bytes: number) =>
      JSON.stringify({
        query: print(UpdateContextDocument),
        variables: { input: { personId, sessionId: 'big', sources: [{ source: 'test', data: { blob: 'x'.repeat(bytes) } }] } },
      });
    const storedFor = async (personId: string) =>
      dataOf(await gateway.execute(TracesDocument, { filter: { personId }, first: 5 }, admin)).traces.totalCount;

    it('answers 413 with a JSON GraphQL error to a larger body, and writes nothing', async () => {
      const body = mutationBody('too-big', 20_000);
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${ingest}` },
        body,
      });
      expect(response.status).toBe(413);
      expect(response.headers.get('content-type')).toMatch(/json/);
      const json = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(json.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
      expect(json.errors[0]?.message).toMatch(/16384/);
      expect(await storedFor('too-big')).toBe(0);
    });

    it('accepts a body just under the limit (the limit is the boundary, not a blanket refusal)', async () => {
      const body = mutationBody('fits', 15_000);
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(16_384);
      const response = await postRaw(body, {});
      expect(response.status).toBe(200);
      expect(await storedFor('fits')).toBe(1);
    });

    it('refuses a body of unannounced length (chunked) before reading it, and writes nothing', async () => {
      const response = await postRaw(mutationBody('chunked', 20_000), { 'transfer-encoding': 'chunked' });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.contentType).toMatch(/json/);
      expect(JSON.parse(response.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(await storedFor('chunked')).toBe(0);
    });

    it('closes a WebSocket that sends a message above the limit (1009) and writes nothing', async () => {
      const ws = await open(ingest);
      await acked(ws);
      ws.send({ id: 'big', type: 'subscribe', payload: JSON.parse(mutationBody('ws-too-big', 20_000)) });
      const { code } = await ws.closed;
      expect(code).toBe(1009);
      expect(await storedFor('ws-too-big')).toBe(0);
    });
  });

  describe('depth, aliases and cost', () => {
    const cases = [
      { limit: 'depth', query: TOO_DEEP_QUERY, subscription: TOO_DEEP_SUBSCRIPTION, message: /depth/i },
      { limit: 'aliases', query: TOO_MANY_ALIASES_QUERY, subscription: TOO_MANY_ALIASES_SUBSCRIPTION, message: /alias/i },
      { limit: 'cost', query: TOO_COSTLY_QUERY, subscription: TOO_COSTLY_SUBSCRIPTION, message: /cost/i },
    ];

    for (const { limit, query, subscription, message } of cases) {
      it(`rejects an operation over the ${limit} limit over HTTP, with a code and no data`, async () => {
        const result = await gateway.execute<unknown, undefined>(query, undefined, admin);
        expect(codesOf(result)).toEqual(['BAD_USER_INPUT']);
        expect(result.errors?.[0]?.message).toMatch(message);
        expect(result.data ?? null).toBeNull();
      });

      it(`rejects a query and a subscription over the ${limit} limit over graphql-ws, keeping the connection`, async () => {
        const ws = await open(admin);
        await acked(ws);
        ws.subscribe('query', query);
        ws.subscribe('sub', subscription);
        for (const id of ['query', 'sub']) {
          const error = await ws.waitFor((m) => m.id === id && m.type !== 'next');
          expect(error.type).toBe('error');
          expect(errorsOf(error).map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
          expect(errorsOf(error)[0]?.message).toMatch(message);
        }
        // Nothing subscribed, and the connection still serves a valid operation.
        expect(await metricValue(gateway.url, SUBSCRIBERS)).toBe(0);
        ws.subscribe('ok', '{ __typename }');
        expect((await ws.waitFor((m) => m.id === 'ok')).payload).toEqual({ data: { __typename: 'Query' } });
        expect(ws.socket.readyState).toBe(ws.socket.OPEN);
      });
    }

    it('lets ordinary operations through with these limits', async () => {
      dataOf(await update('ordinary', 'o1', { ok: true }));
      dataOf(await gateway.execute(SessionDocument, { personId: 'ordinary', sessionId: 'o1', first: 5 }, admin));
    });
  });

  describe('operations per WebSocket connection (MAX_SUBSCRIPTIONS_PER_CONNECTION=2)', () => {
    it('refuses a third with RATE_LIMITED and accepts a new one once one completes', async () => {
      const ws = await open(alice);
      await acked(ws);
      ws.subscribe('1', CONTEXT_UPDATED, { p: 'alice' });
      ws.subscribe('2', CONTEXT_UPDATED, { p: 'alice' });
      await gateway.untilSubscribers(2);
      ws.subscribe('3', CONTEXT_UPDATED, { p: 'alice' });
      const refused = await ws.waitFor((m) => m.id === '3');
      expect(refused.type).toBe('error');
      expect(errorsOf(refused).map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);

      // Another connection has its own allowance.
      const other = await open(alice);
      await acked(other);
      other.subscribe('x', CONTEXT_UPDATED, { p: 'alice' });
      await gateway.untilSubscribers(3);

      // Completing one frees its slot for the very next subscribe on the same connection, sent right after.
      ws.complete('1');
      ws.subscribe('4', CONTEXT_UPDATED, { p: 'alice' });
      await gateway.untilSubscribers(3);
      expect(ws.messages.filter((m) => m.id === '4' && m.type === 'error')).toEqual([]);
      const written = dataOf(await update('alice', 'a1', { step: 1 }));
      const delivered = await ws.waitFor((m) => m.id === '4');
      expect(delivered.type).toBe('next');
      expect(nextIds(ws, '4')).toEqual([written.updateContext.trace.id]);
      expect(nextIds(ws, '2')).toEqual([written.updateContext.trace.id]);
      expect(nextIds(ws, '1')).toEqual([]);
      expect(ws.messages.filter((m) => m.id === '4' && m.type === 'error')).toEqual([]);
    });
  });

  describe('slow subscriber (SUBSCRIBER_BUFFER_EVENTS=2)', () => {
    it('is cut off with close code 1008 and nothing more is queued for it', async () => {
      const slow = await open(alice);
      await acked(slow);
      slow.subscribe('s', 'subscription ($p: ID!) { contextUpdated(personId: $p) { context trace { id } } }', { p: 'alice' });
      await gateway.untilSubscribers(1);
      slow.pause();

      // Each update adds a 7 KB key, so every event carries the whole (growing) context: a few MB in total fill the
      // kernel's socket buffers, then the server's per-subscriber buffer of 2 events overflows.
      const before: string[] = [];
      let overflowed = false;
      for (let i = 0; i < 150 && !overflowed; i += 1) {
        const result = await update('alice', 'slow', { [`k${i}`]: 'x'.repeat(7_000) });
        before.push(dataOf(result).updateContext.trace.id);
        overflowed = (await metricValue(gateway.url, SUBSCRIBERS)) === 0;
      }
      expect(overflowed, 'the subscriber was never cut off').toBe(true);

      // Cut off: no longer a subscriber, so later events are not buffered for it at all (memory stays bounded).
      const after: string[] = [];
      for (let i = 0; i < 5; i += 1) after.push(dataOf(await update('alice', 'slow', { late: i })).updateContext.trace.id);
      expect(await metricValue(gateway.url, SUBSCRIBERS)).toBe(0);

      slow.resume();
      const { code, reason } = await slow.closed;
      expect(code).toBe(1008);
      expect(reason).toMatch(/slow|buffer/i);
      const received = nextIds(slow, 's');
      expect(received.length).toBeLessThan(before.length);
      expect(received.every((id) => id !== undefined && before.includes(id))).toBe(true);
      expect(received.some((id) => id !== undefined && after.includes(id))).toBe(false);
      // Delivered in order, without gaps, up to where it was cut off.
      expect(received).toEqual(before.slice(0, received.length));
      await untilMetric(gateway.url, WS_CONNECTIONS, (v) => v === 0);
    });
  });

  describe('tokens at connect', () => {
    it.each([
      ['no token', null],
      ['a malformed token', 'not-a-jwt'],
      ['a token signed with another secret', 'OTHER'],
      ['an expired token', 'EXPIRED'],
    ])('closes the connection with 4403 for %s', async (_, kind) => {
      let token = kind;
      if (kind === 'OTHER') token = await signToken({ sub: 'alice' }, 'another-secret-that-is-at-least-32-characters');
      if (kind === 'EXPIRED') token = await gateway.token({ sub: 'alice', expiresIn: -10 });
      const ws = await open(token);
      const { code } = await ws.closed;
      expect(code).toBe(4403);
      expect(ws.messages.filter((m) => m.type === 'connection_ack')).toEqual([]);
    });
  });

  describe('a token that expires during a subscription', () => {
    it('ends the subscription with UNAUTHENTICATED at expiry and delivers nothing after', async () => {
      const expiring = await open(await gateway.token({ sub: 'alice', expiresIn: 3 }));
      const control = await open(alice);
      await Promise.all([acked(expiring), acked(control)]);
      expiring.subscribe('e', CONTEXT_UPDATED, { p: 'alice' });
      control.subscribe('c', CONTEXT_UPDATED, { p: 'alice' });
      await gateway.untilSubscribers(2);

      const first = dataOf(await update('alice', 'exp', { n: 1 })).updateContext.trace.id;
      await Promise.all([expiring.waitFor((m) => m.id === 'e' && m.type === 'next'), control.waitFor((m) => m.id === 'c')]);
      expect(nextIds(expiring, 'e')).toEqual([first]);

      // The stream ends at expiry by itself, with no event needed to notice it.
      const ended = await expiring.waitFor((m) => m.id === 'e' && m.type !== 'next', 5_000);
      expect(ended.type).toBe('error');
      expect(errorsOf(ended).map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      await untilMetric(gateway.url, SUBSCRIBERS, (v) => v === 1);

      // The control subscriber (valid token) receives the next event; the expired one gets nothing more.
      const second = dataOf(await update('alice', 'exp', { n: 2 })).updateContext.trace.id;
      await control.waitFor((m) => m.id === 'c' && nextIds(control, 'c').includes(second));
      expect(nextIds(expiring, 'e')).toEqual([first]);

      // Nor can the expired connection subscribe again.
      expiring.subscribe('again', CONTEXT_UPDATED, { p: 'alice' });
      const again = await expiring.waitFor((m) => m.id === 'again');
      const errors = again.type === 'next' ? (again.payload as { errors: { extensions: { code: string } }[] }).errors : errorsOf(again);
      expect(errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(await metricValue(gateway.url, SUBSCRIBERS)).toBe(1);
    });
  });
});

describe('a body limit above 25 MB (MAX_BODY_BYTES=40000000)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ MAX_BODY_BYTES: '40000000' });
  });
  afterAll(() => gateway?.close());

  it('is the only limit: a 30 MB body is read and answered (no hidden 25 MB cap behind it)', async () => {
    // Variables the operation does not declare are ignored: the body is large, the work is not.
    const body = JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(30_000_000) } });
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${await gateway.token({ sub: 'reader' })}` },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
