import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLError } from 'graphql';
import { createLogger, createYoga, type YogaLogger } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { WebSocketServer } from 'ws';
import { createTokenVerifier } from './auth/tokens.js';
import type { Viewer } from './auth/viewer.js';
import type { Config } from './config.js';
import { createContext, type GraphQLContext } from './context.js';
import { createLocalPubSub } from './realtime/pubsub.js';
import { createRedisPubSub } from './realtime/redis-pubsub.js';
import { schema } from './schema/index.js';
import { createServices, type Services } from './services/index.js';
import { createMetrics } from './server/metrics.js';
import { useLimits } from './server/limits.js';
import { maskError, quietClientErrors, useContractValidationCodes } from './server/mask-error.js';
import { attachGraphqlWs } from './server/graphql-ws.js';
import { isProjectExport, serveProjectExport } from './server/project-export.js';
import { useCompiledExecution } from './server/compiled-execution.js';
import { useReplayCacheHeaders } from './server/replay-cache-headers.js';
import { startRetentionJob } from './server/retention-job.js';
import { openDatabase, type Database } from './store/database.js';

export interface GatewayServer {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`. */
  url: string;
  /** Stops accepting work, lets in-flight requests finish, closes subscriptions and the database. */
  close(): Promise<void>;
}

/** What Yoga receives from the HTTP and WebSocket transports; WebSocket operations come with their viewer. */
export interface TransportContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  viewer?: Viewer | null;
  closeTransport?: GraphQLContext['closeTransport'];
}

const logLevels = { fatal: 'error', error: 'error', warn: 'warn', info: 'info', debug: 'debug', trace: 'debug', silent: 'silent' } as const;

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

/**
 * Builds and starts the gateway: listens at once (so /health can say 503 while the store opens and migrates),
 * then opens the store and serves GraphQL over HTTP, SSE and WebSocket on `/graphql`.
 */
export async function createServer(config: Config, logger: YogaLogger = createLogger(logLevels[config.logLevel])): Promise<GatewayServer> {
  const metrics = createMetrics();
  const verify = createTokenVerifier(config.auth);
  const pubsub = config.redisUrl
    ? await createRedisPubSub(config.redisUrl, config.redisPrefix, {
        counter: metrics.pubsubSubscribers,
        onError: (error) => logger.warn(`redis: ${error.message}`),
      })
    : createLocalPubSub({ counter: metrics.pubsubSubscribers });
  let ready: { database: Database; services: Services } | null = null;
  /** Set by close(): new work is refused (503, WebSocket 4403) while work already accepted still finishes. */
  let closing = false;

  const yoga = createYoga<TransportContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // The HTTP server in front checks the body first (a Content-Length of at most MAX_BODY_BYTES, which Node's
    // parser then holds the body to). Yoga's own limit would cap bodies at 25 MB whatever MAX_BODY_BYTES says, and
    // pipes every body through a web TransformStream to count it again.
    maxRequestBodySize: false,
    logging: quietClientErrors(logger),
    maskedErrors: { maskError: (error, message) => maskError(error, message, !config.production, logger) },
    graphiql: { title: 'Replay Gateway', subscriptionsProtocol: 'WS' },
    // Bundled GraphiQL: works on machines that cannot reach a CDN.
    renderGraphiQL,
    context: async ({ request, viewer, closeTransport }) => {
      if (!ready) throw new Error('Store is not open yet');
      const who = viewer !== undefined ? viewer : await verify(request.headers.get('authorization'));
      return createContext({ db: ready.database.read, services: ready.services, limits: config.limits }, who, closeTransport);
    },
    plugins: [...useLimits(config.limits), useContractValidationCodes(), metrics.yogaPlugin, useReplayCacheHeaders(), useCompiledExecution()],
  });

  const httpServer = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return json(res, ready && !closing ? 200 : 503, { status: closing ? 'stopping' : ready ? 'ok' : 'starting' });
    if (path === '/metrics') {
      void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
      return;
    }
    if (!ready || closing) {
      const message = closing ? 'Stopping: not accepting new requests' : 'Starting: the store is not open yet';
      return json(res, 503, { errors: [{ message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
    if (path && isProjectExport(path)) {
      serveProjectExport(req, res, path, verify, ready.services).catch((error: unknown) => {
        logger.error('export failed', error);
        res.destroy();
      });
      return;
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > config.limits.maxBodyBytes || (req.method === 'POST' && req.headers['content-length'] === undefined)) {
      const status = length > config.limits.maxBodyBytes ? 413 : 411;
      return json(res, status, {
        errors: [{ message: `Request body must have a Content-Length of at most ${config.limits.maxBodyBytes} bytes`, extensions: { code: 'BAD_USER_INPUT' } }],
      });
    }
    void yoga.handle(req, res, { req, res });
  });
  httpServer.keepAliveTimeout = 5_000;

  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', perMessageDeflate: false, maxPayload: config.limits.maxBodyBytes });
  const graphqlWs = attachGraphqlWs(wss, yoga, {
    verify,
    limits: config.limits,
    metrics,
    isReady: () => ready !== null && !closing,
    openMode: config.auth.mode === 'open',
    maskError: (error) => maskError(error, 'Unexpected error.', !config.production, logger) as GraphQLError,
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}/graphql`;

  let database: Database;
  try {
    database = await openDatabase(config.store);
  } catch (error) {
    httpServer.close();
    throw error;
  }
  const services = createServices({ database, pubsub, config, now: () => new Date() });
  ready = { database, services };
  const retention = startRetentionJob(services, config, logger);

  return {
    url,
    async close() {
      // Refuse new work first, but keep the store open (and `ready` set) until every accepted request has answered:
      // clearing `ready` here used to fail in-flight requests with "Store is not open yet".
      closing = true;
      await retention.stop();
      // WebSocket clients get 1001 Going Away; one that never answers the close handshake is cut after 5 s.
      const cutWebSockets = setTimeout(() => wss.clients.forEach((client) => client.terminate()), 5_000).unref();
      await graphqlWs.dispose();
      clearTimeout(cutWebSockets);
      // Ends live subscriptions, so SSE responses complete instead of holding the HTTP server open.
      await pubsub.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => httpServer.closeAllConnections(), 10_000).unref();
        // A keep-alive connection whose response finishes after close() began would otherwise stay open until its
        // keep-alive timeout (5 s); closing idle connections as they appear ends each one right after its response.
        const idle = setInterval(() => httpServer.closeIdleConnections(), 50);
        httpServer.close(() => {
          clearTimeout(force);
          clearInterval(idle);
          resolve();
        });
        httpServer.closeIdleConnections();
      });
      await yoga.dispose();
      ready = null;
      await database.close();
    },
  };
}
