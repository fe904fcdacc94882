import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';

/** A graphql-ws client on the gateway's /graphql, authenticated with `connectionParams.authorization`. */
export function wsClient(httpUrl: string, token: string | null, options: { onClose?: (event: { code: number; reason: string }) => void } = {}): WsClient {
  return createWsClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (event) => options.onClose?.(event as { code: number; reason: string }) },
    onNonLazyError: () => undefined,
  });
}

/** A graphql-sse client (Yoga's SSE, distinct connections mode) with the bearer token as a header. */
export function sseClient(httpUrl: string, token: string | null) {
  return createSseClient({ url: httpUrl, headers: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0 });
}

export interface Subscription<R> {
  /** The next result; rejects after `timeoutMs` so a test never hangs. */
  next(timeoutMs?: number): Promise<ExecutionResult<R>>;
  /** The next `count` results in order. */
  take(count: number, timeoutMs?: number): Promise<ExecutionResult<R>[]>;
  /** Resolves once the server completes the stream (true) or rejects it with an error (the error). */
  ended: Promise<unknown>;
  stop(): Promise<void>;
}

/** Subscribes through either client and exposes awaitable results; never uses sleeps to wait for delivery. */
export function subscribe<R, V>(
  client: Pick<WsClient, 'iterate'>,
  document: TypedDocumentNode<R, V>,
  variables: V,
): Subscription<R> {
  const iterator = client.iterate({ query: print(document), variables: variables as Record<string, unknown> }) as AsyncIterableIterator<
    ExecutionResult<R>
  >;
  let resolveEnded: (value: unknown) => void = () => undefined;
  const ended = new Promise((resolve) => (resolveEnded = resolve));
  const next = (timeoutMs = 10_000) =>
    new Promise<ExecutionResult<R>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No subscription result within ${timeoutMs} ms`)), timeoutMs);
      iterator.next().then(
        (step) => {
          clearTimeout(timer);
          if (step.done) {
            resolveEnded(true);
            reject(new Error('Subscription completed'));
          } else resolve(step.value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          resolveEnded(error);
          reject(error);
        },
      );
    });
  return {
    next,
    async take(count, timeoutMs) {
      const results: ExecutionResult<R>[] = [];
      for (let i = 0; i < count; i += 1) results.push(await next(timeoutMs));
      return results;
    },
    ended,
    async stop() {
      await iterator.return?.();
    },
  };
}
