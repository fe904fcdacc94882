import type { ExecutionArgs } from 'graphql';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { WebSocket, WebSocketServer } from 'ws';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Viewer } from '../auth/viewer.js';
import type { Limits } from '../config.js';
import type { GraphQLContext } from '../context.js';
import type { TransportContext } from '../server.js';
import type { Metrics } from './metrics.js';

interface Options {
  verify: TokenVerifier;
  limits: Limits;
  metrics: Metrics;
  isReady: () => boolean;
  openMode: boolean;
  /** The same masking HTTP responses get: every error leaves with an `extensions.code`. */
  maskError: (error: unknown) => GraphQLError;
}

type ConnectionExtra = { viewer?: Viewer | null };
type EnvelopedRoot = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

/**
 * graphql-ws (graphql-transport-ws) on the shared `/graphql` path. Every operation runs through Yoga's enveloped
 * parse/validate/context/execute, so auth, limits, masking and metrics are the same as over HTTP. A bad or
 * missing token at connect closes with 4403 Forbidden, as the protocol defines.
 */
export function attachGraphqlWs(wss: WebSocketServer, yoga: YogaServerInstance<TransportContext, GraphQLContext>, options: Options) {
  const operations = new WeakMap<WebSocket, Set<string>>();
  const operationsOf = (socket: WebSocket) => operations.get(socket) ?? operations.set(socket, new Set()).get(socket)!;
  // Ids whose slot a client `complete` already freed, before graphql-ws got round to calling onComplete for them.
  const released = new WeakMap<WebSocket, Set<string>>();
  const releasedOf = (socket: WebSocket) => released.get(socket) ?? released.set(socket, new Set()).get(socket)!;

  wss.on('connection', (socket) => {
    options.metrics.websocketConnections.inc();
    // Runs before graphql-ws's own handler (registered first): a client that completes one operation and at once
    // starts another, in that order, must get the freed slot. graphql-ws ends the old operation asynchronously, so
    // counting only in onComplete would refuse the new one with RATE_LIMITED.
    socket.on('message', (data) => {
      const text = String(data);
      if (!text.includes('"complete"')) return;
      try {
        const message = JSON.parse(text) as { type?: unknown; id?: unknown };
        if (message.type !== 'complete' || typeof message.id !== 'string') return;
        if (operations.get(socket)?.delete(message.id)) {
          releasedOf(socket).add(message.id);
          options.metrics.websocketSubscriptions.dec();
        }
      } catch {
        // Not JSON: graphql-ws closes the connection for it.
      }
    });
    socket.once('close', () => {
      options.metrics.websocketConnections.dec();
      // Forget the set, so the onComplete graphql-ws still calls for each of these does not count them twice.
      options.metrics.websocketSubscriptions.dec(operations.get(socket)?.size ?? 0);
      operations.delete(socket);
    });
  });

  const server = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      connectionInitWaitTimeout: 10_000,
      onConnect: async (ctx) => {
        if (!options.isReady()) {
          // Starting or stopping is not an auth failure (4403): 1013 tells clients to come back.
          ctx.extra.socket.close(1013, 'Try again later: the server is starting or stopping');
          return false;
        }
        try {
          const authorization = ctx.connectionParams?.authorization;
          const viewer = await options.verify(typeof authorization === 'string' ? authorization : null);
          if (!viewer && !options.openMode) return false;
          ctx.extra.viewer = viewer;
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: async (ctx, id, params) => {
        const active = operationsOf(ctx.extra.socket);
        if (active.size >= options.limits.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`At most ${options.limits.maxSubscriptionsPerConnection} operations per connection`, {
              extensions: { code: 'RATE_LIMITED' },
            }),
          ];
        }
        const enveloped = yoga.getEnveloped({
          req: ctx.extra.request,
          viewer: ctx.extra.viewer ?? null,
          closeTransport: (code, reason) => ctx.extra.socket.close(code, reason),
          params,
        } as TransportContext & Record<string, unknown>);
        // Limit rules (depth, aliases, cost) throw from validate rather than report: caught here, they answer this
        // operation with an error message instead of closing the whole connection with 4500.
        let document;
        let errors: readonly GraphQLError[];
        try {
          document = enveloped.parse(params.query);
          errors = enveloped.validate(enveloped.schema, document);
        } catch (error) {
          errors = [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        if (errors.length > 0 || !document) return [...errors]; // masked in onError below, like every error sent
        active.add(id);
        options.metrics.websocketSubscriptions.inc();
        return {
          schema: enveloped.schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies EnvelopedRoot,
        };
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      // Errors a stream throws (token expiry, a subscriber cut off) reach the client with their code, as over HTTP.
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => options.maskError(error).toJSON()),
      onComplete: (ctx, id) => {
        if (released.get(ctx.extra.socket)?.delete(id)) return;
        if (operationsOf(ctx.extra.socket).delete(id)) options.metrics.websocketSubscriptions.dec();
      },
    },
    wss,
  );

  return server;
}
