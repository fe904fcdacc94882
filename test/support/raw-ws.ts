import type { Socket } from 'node:net';
import WebSocket from 'ws';

/** A graphql-transport-ws message as it travels on the wire. */
export interface WireMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface RawWs {
  socket: WebSocket;
  /** Every message received so far, in order. */
  messages: WireMessage[];
  /** Resolves with the close code and reason once the connection is closed (by either side). */
  closed: Promise<{ code: number; reason: string }>;
  send(message: WireMessage): void;
  /** connection_init with `authorization: Bearer <token>` (none when token is null). */
  init(token: string | null): void;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  complete(id: string): void;
  /** The first message (already received or still to come) that matches; rejects after `timeoutMs`. */
  waitFor(match: (message: WireMessage) => boolean, timeoutMs?: number): Promise<WireMessage>;
  /** Stops reading from the TCP socket: the server's writes pile up in kernel buffers, then in its own. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A hand-driven graphql-transport-ws connection (no client library): lets a test speak the protocol exactly,
 * stop reading, and see every frame and the close code the server chose.
 */
export async function rawWs(httpUrl: string): Promise<RawWs> {
  const socket = new WebSocket(httpUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: WireMessage[] = [];
  const waiters = new Set<{ match: (m: WireMessage) => boolean; resolve: (m: WireMessage) => void }>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as WireMessage;
    messages.push(message);
    for (const waiter of waiters) {
      if (waiter.match(message)) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const tcp = () => (socket as unknown as { _socket: Socket })._socket;
  const send = (message: WireMessage) => socket.send(JSON.stringify(message));
  return {
    socket,
    messages,
    closed,
    send,
    init: (token) => send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }),
    subscribe: (id, query, variables) => send({ id, type: 'subscribe', payload: { query, variables } }),
    complete: (id) => send({ id, type: 'complete' }),
    waitFor(match, timeoutMs = 10_000) {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (m: WireMessage) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`No matching message within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 2000)}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    pause: () => tcp().pause(),
    resume: () => tcp().resume(),
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      tcp()?.resume();
      if (socket.readyState !== WebSocket.CLOSING) socket.close(1000);
      const timer = setTimeout(() => socket.terminate(), 2_000);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** Waits for the server's connection_ack (after `init`). */
export const acked = (ws: RawWs, timeoutMs?: number) => ws.waitFor((m) => m.type === 'connection_ack', timeoutMs);
