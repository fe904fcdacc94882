import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createLogger } from 'graphql-yoga';
import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type GatewayServer } from '../../src/server.js';
import { freshDatabase } from './databases.js';
import { untilMetric } from './metrics.js';
import { signToken, TEST_JWT_SECRET, type TokenClaims } from './tokens.js';

export interface TestGateway extends GatewayServer {
  config: Config;
  databaseUrl: string;
  /** A signed bearer token for these claims. */
  token(claims: TokenClaims): Promise<string>;
  /** Resolves once at least `count` live subscribers are listening (read from /metrics, no sleeping). */
  untilSubscribers(count: number, timeoutMs?: number): Promise<void>;
  /** Runs an operation over real HTTP; the token is a raw JWT (or null for none). */
  execute<R, V>(document: TypedDocumentNode<R, V> | string, variables?: V, token?: string | null): Promise<ExecutionResult<R> & { status: number }>;
}

/**
 * A real gateway on a random port with a fresh database of the suite's provider, authenticated with HS256.
 * `env` overrides any setting; close() stops it and drops the database.
 */
export async function startGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  // A DATABASE_URL in env shares another gateway's store (several gateways on one database); else a fresh one.
  const database = env.DATABASE_URL ? { url: env.DATABASE_URL, drop: async () => undefined } : await freshDatabase();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: database.url, LOG_LEVEL: 'silent', ...env });
  const server = await createServer(config, createLogger('silent'));
  return {
    ...server,
    config,
    databaseUrl: database.url,
    token: (claims) => signToken(claims, config.auth.mode === 'secret' ? config.auth.secret : TEST_JWT_SECRET),
    async execute(document, variables, token) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
      });
      const body = (await response.json()) as ExecutionResult<never>;
      return { ...body, status: response.status };
    },
    untilSubscribers: async (count, timeoutMs = 10_000) => {
      await untilMetric(server.url, 'replay_gateway_pubsub_subscribers', (value) => value >= count, timeoutMs);
    },
    async close() {
      await server.close();
      await database.drop();
    },
  };
}

/** Fails with the whole response printed when an operation returned errors. */
export function dataOf<R>(result: ExecutionResult<R>): R {
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors, null, 2)}`);
  return result.data;
}

/** The `extensions.code` of each error, in order. */
export const codesOf = (result: ExecutionResult<unknown>) => (result.errors ?? []).map((e) => e.extensions?.code);
