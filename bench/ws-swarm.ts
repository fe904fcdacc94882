// The client side of the WebSocket benchmarks (`fanout`, `subscriber-memory`): many WebSocket clients in one
// process, run by `spawnScript` pinned to its own core so it never competes with the server it measures. It is
// driven over a small local HTTP control API (it prints its URL when ready):
//   POST /connect { url, count, subscribe? }
//       opens `count` more clients to the ws:// `url`, each on its own connection. With `subscribe` (a
//       graphql-transport-ws subscribe payload) each does connection_init, waits for the ack and subscribes once,
//       as a dashboard would; without it they stay bare WebSocket connections.
//   POST /arm { events }
//       starts recording when each client receives each of the next `events` messages.
//   POST /collect { publishedAt }
//       waits until every client received every event, then answers deliveries/s (from the first publish to the
//       last receipt) and publish→receive latency percentiles; `publishedAt[k]` is when the publisher sent event
//       k, and a client's k-th message is event k. Times are CLOCK_MONOTONIC milliseconds (`monotonicMs`), one
//       clock for every process on the machine, so the publisher can be another process.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { monotonicMs } from './monotonic-clock.js';

/** Connections opened at once: more would overflow the server's accept backlog while its core is busy. */
const OPENING_BATCH = 100;
const BURST_TIMEOUT_MS = 60_000;

interface Burst {
  events: number;
  /** Receipt times, event-major: `receivedAt[k * clients + client]`. */
  receivedAt: Float64Array;
  recorded: number;
  /** Resolves once every receipt is recorded. */
  complete: Promise<void>;
  done: () => void;
}

let clients = 0;
/** Per client: messages received in the current burst (its k-th message is the k-th event published). */
let received = new Int32Array(0);
/** Per client: its latest message, checked once per burst (parsing every message would load this core). */
const latest: Buffer[] = [];
let burst: Burst | null = null;
/** Set when the server closes a client: every later burst fails instead of waiting for it. */
let failure: Error | null = null;

function onMessage(index: number, data: Buffer) {
  latest[index] = data;
  const k = received[index]!;
  received[index] = k + 1;
  if (!burst || k >= burst.events) return;
  burst.receivedAt[k * clients + index] = monotonicMs();
  burst.recorded += 1;
  if (burst.recorded === burst.receivedAt.length) burst.done();
}

/** Opens one client; resolves once it can receive events (for graphql-ws: acknowledged and subscribed). */
function open(url: string, index: number, subscribe: unknown) {
  return new Promise<void>((resolve, reject) => {
    const socket = subscribe ? new WebSocket(url, 'graphql-transport-ws') : new WebSocket(url);
    socket.once('error', reject);
    socket.once('close', (code, reason) => {
      failure ??= new Error(`client ${index} closed by the server: ${code} ${String(reason)}`);
      burst?.done();
    });
    const listen = () => {
      socket.on('message', (data: Buffer) => onMessage(index, data));
      resolve();
    };
    socket.once('open', () => {
      clients += 1;
      if (!subscribe) return listen();
      socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      socket.once('message', (ack: Buffer) => {
        if (JSON.parse(String(ack)).type !== 'connection_ack') return reject(new Error(`client ${index}: no ack but ${String(ack)}`));
        // Like the graphql-ws client library, every subscription gets its own UUID as its operation id.
        socket.send(JSON.stringify({ id: randomUUID(), type: 'subscribe', payload: subscribe }));
        listen();
      });
    });
  });
}

async function connect(url: string, count: number, subscribe: unknown) {
  const first = clients;
  received = new Int32Array(first + count);
  for (let start = 0; start < count; start += OPENING_BATCH) {
    await Promise.all(Array.from({ length: Math.min(OPENING_BATCH, count - start) }, (_, i) => open(url, first + start + i, subscribe)));
  }
  return { clients };
}

/** Every client's last message must be a GraphQL result with data: a benchmark of error messages measures nothing. */
function checkLatest() {
  for (const [index, data] of latest.entries()) {
    const message = JSON.parse(String(data)) as { type?: string; payload?: { data?: unknown; errors?: unknown } };
    if (message.type !== 'next' || !message.payload?.data || message.payload.errors) {
      throw new Error(`client ${index} received ${String(data).slice(0, 500)}`);
    }
  }
}

function arm(events: number) {
  if (failure) throw failure;
  received.fill(0);
  let done = () => {};
  const complete = new Promise<void>((resolve) => (done = resolve));
  burst = { events, receivedAt: new Float64Array(events * clients), recorded: 0, complete, done };
  return { clients };
}

async function collect(publishedAt: readonly number[]) {
  const current = burst;
  if (!current) throw new Error('collect without arm');
  const timeout = setTimeout(current.done, BURST_TIMEOUT_MS);
  await current.complete;
  clearTimeout(timeout);
  burst = null;
  if (failure) throw failure;
  if (current.recorded < current.receivedAt.length) {
    throw new Error(`only ${current.recorded} of ${current.receivedAt.length} deliveries within ${BURST_TIMEOUT_MS} ms`);
  }
  checkLatest();
  const latencies = current.receivedAt.map((at, i) => at - publishedAt[Math.floor(i / clients)]!);
  const seconds = (current.receivedAt.reduce((last, at) => Math.max(last, at)) - publishedAt[0]!) / 1000;
  const sorted = latencies.sort();
  const percentile = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return { deliveries: sorted.length, seconds, deliveriesPerSecond: sorted.length / seconds, p50Ms: percentile(50), p99Ms: percentile(99) };
}

interface Command {
  url: string;
  count: number;
  subscribe?: unknown;
  events: number;
  publishedAt: number[];
}

async function handle(req: IncomingMessage) {
  let text = '';
  for await (const chunk of req.setEncoding('utf8')) text += chunk;
  const command = (text ? JSON.parse(text) : {}) as Command;
  if (req.url === '/connect') return connect(command.url, command.count, command.subscribe);
  if (req.url === '/arm') return arm(command.events);
  if (req.url === '/collect') return collect(command.publishedAt);
  throw new Error(`unknown command ${req.url}`);
}

const control = createServer((req, res) => {
  handle(req).then(
    (result) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result)),
    (error: unknown) => res.writeHead(500).end(String(error instanceof Error ? error.stack : error)),
  );
});
control.listen(0, '127.0.0.1', () => {
  console.log(`ws-swarm ready at http://127.0.0.1:${(control.address() as AddressInfo).port}/`);
});
process.once('SIGTERM', () => process.exit(0));
