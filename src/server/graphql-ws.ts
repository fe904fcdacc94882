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

  wss.on('connection', (socket) => {
    options.metrics.websocketConnections.inc();
    socket.once('close', () => {
      options.metrics.websocketConnections.dec();
      options.metrics.websocketSubscriptions.dec(operations.get(socket)?.size ?? 0);
    });
  });

  const server = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      connectionInitWaitTimeout: 10_000,
      onConnect: async (ctx) => {
        if (!options.isReady()) return false;
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
        let document;
        try {
          document = enveloped.parse(params.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
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
      onComplete: (ctx, id) => {
        if (operationsOf(ctx.extra.socket).delete(id)) options.metrics.websocketSubscriptions.dec();
      },
    },
    wss,
  );

  return server;
}
