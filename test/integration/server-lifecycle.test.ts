import { createServer as createHttpServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import pg from 'pg';
import { createLogger } from 'graphql-yoga';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createServer } from '../../src/server.js';
import { ContextUpdatedDocument, TraceStatsDocument, UpdateContextDocument } from '../generated/graphql.js';
import { sseClient, subscribe, wsClient } from '../support/clients.js';
import { freshDatabase, testProvider } from '../support/databases.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { spawnGateway, stopProcess } from '../support/process.js';
import { acked, rawWs } from '../support/raw-ws.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';

/** Start-up, health, metrics, GraphiQL, graceful shutdown, configuration and the three auth modes. */

const origin = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '');

const updateInput = (personId: string, sessionId = 's1') => ({ input: { personId, sessionId, sources: [{ source: 'gps', data: { at: 'home' } }] } });

/** A port nothing listens on right now (so a test knows the URL before createServer resolves). */
async function freePort(): Promise<number> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a running gateway', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway?.close());

  it('answers /health with 200 once the store is open', async () => {
    const response = await fetch(`${origin(gateway.url)}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves Prometheus metrics at /metrics, GraphQL ones and its own', async () => {
    const token = await gateway.token({ sub: 'metrics' });
    dataOf(await gateway.execute(UpdateContextDocument, updateInput('metrics'), token));
    const response = await fetch(`${origin(gateway.url)}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    for (const name of [
      'graphql_envelop_request_duration',
      'graphql_yoga_http_duration',
      'replay_gateway_websocket_connections',
      'replay_gateway_websocket_subscriptions',
      'replay_gateway_pubsub_subscribers',
      'process_cpu_seconds_total',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    // The operation just run was counted.
    expect(text).toMatch(/^graphql_envelop_request_duration_count\{[^}]*operationName="UpdateContext"[^}]*\} [1-9]/m);
    // Every sample line is well-formed exposition text.
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(10);
    for (const line of samples) expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+$/);
  });

  it('labels every request error with a code from the contract, over HTTP and graphql-ws', async () => {
    const CODES = ['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'SESSION_NOT_FOUND', 'INVALID_TICK', 'NO_TELEMETRY', 'CONFLICT', 'RATE_LIMITED', 'INTERNAL_SERVER_ERROR'];
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, RequestInit][] = [
      ['invalid JSON', '', { method: 'POST', headers: json, body: '{bad' }],
      ['no query', '', { method: 'POST', headers: json, body: '{}' }],
      ['syntax error', '', { method: 'POST', headers: json, body: '{"query":"{"}' }],
      ['unknown field', '', { method: 'POST', headers: json, body: '{"query":"{ noSuchField }"}' }],
      ['unknown field (graphql-response+json)', '', { method: 'POST', headers: { ...json, accept: 'application/graphql-response+json' }, body: '{"query":"{ noSuchField }"}' }],
      ['bad variable', '', { method: 'POST', headers: json, body: '{"query":"query ($f: Int) { traces(first: $f) { totalCount } }","variables":{"f":"x"}}' }],
      ['unknown operation name', '', { method: 'POST', headers: json, body: '{"query":"query A { __typename }","operationName":"B"}' }],
      ['mutation over GET', `?query=${encodeURIComponent('mutation { cleanupTraces { deletedCount } }')}`, { method: 'GET' }],
      ['PUT', '', { method: 'PUT', headers: json, body: '{"query":"{ __typename }"}' }],
    ];
    for (const [name, query, init] of cases) {
      const response = await fetch(`${gateway.url}${query}`, init);
      const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.length, name).toBeGreaterThan(0);
      for (const error of body.errors ?? []) expect(CODES, `${name}: ${JSON.stringify(error)}`).toContain(error.extensions?.code);
    }

    const ws = await rawWs(gateway.url);
    try {
      ws.init(await gateway.token({ sub: 'codes' }));
      await acked(ws);
      ws.subscribe('v', '{ noSuchField }');
      ws.subscribe('s', '{');
      for (const id of ['v', 's']) {
        const message = await ws.waitFor((m) => m.id === id);
        expect(message.type).toBe('error');
        expect((message.payload as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      }
    } finally {
      await ws.close();
    }
  });

  it('serves GraphiQL at /graphql to a browser, and JSON to everyone else', async () => {
    const page = await fetch(gateway.url, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<title>Replay Gateway<\/title>/);
    expect(html).toMatch(/graphiql/i);
    // Subscriptions in GraphiQL go over graphql-ws on the same path.
    expect(html).toMatch(/subscriptionsProtocol[^,}]*WS/);

    const json = await fetch(`${gateway.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json' } });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('logging', () => {
  it('does not log client errors (FORBIDDEN, UNAUTHENTICATED, invalid queries) as server errors', async () => {
    const database = await freshDatabase();
    const logged: { level: string; text: string }[] = [];
    const capture = (level: string) => (...args: unknown[]) => void logged.push({ level, text: args.map(String).join(' ') });
    const logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: database.url, LOG_LEVEL: 'debug' });
    const server = await createServer(config, logger);
    try {
      const bob = await signToken({ sub: 'bob' });
      const post = (query: string, token: string | null) =>
        fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ query }),
        }).then((r) => r.json() as Promise<{ errors?: { extensions: { code: string } }[] }>);
      const forbidden = await post('{ sessions(personId: "alice") { totalCount } }', bob);
      const unauthenticated = await post('{ sessions(personId: "alice") { totalCount } }', null);
      const invalid = await post('{ noSuchField }', bob);
      expect([forbidden, unauthenticated, invalid].map((r) => r.errors?.[0]?.extensions.code)).toEqual(['FORBIDDEN', 'UNAUTHENTICATED', 'BAD_USER_INPUT']);
      expect(logged.filter((entry) => entry.level === 'error')).toEqual([]);
    } finally {
      await server.close();
      await database.drop();
    }
  });
});

describe('/health before the store is open', () => {
  // createServer listens first, then opens and migrates the store; migrations wait on Prisma's advisory lock, which a
  // test can hold on PostgreSQL. SQLite has no such seam that does not also fail start-up.
  it.skipIf(testProvider() !== 'postgresql')('answers 503 while migrations wait, then 200', async () => {
    const database = await freshDatabase();
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    let server: Awaited<ReturnType<typeof createServer>> | undefined;
    try {
      await holder.query('SELECT pg_advisory_lock(72707369)');
      const port = await freePort();
      const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: database.url, LOG_LEVEL: 'silent' });
      const starting = createServer(config, createLogger('silent'));
      starting.catch(() => undefined);
      const base = `http://127.0.0.1:${port}`;
      let health: Response | undefined;
      for (const deadline = Date.now() + 10_000; !health && Date.now() < deadline; ) {
        health = await fetch(`${base}/health`).catch(() => undefined);
        if (!health) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(health?.status).toBe(503);
      expect(await health?.json()).toEqual({ status: 'starting' });
      const graphql = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      expect(graphql.status).toBe(503);
      expect(((await graphql.json()) as { errors: unknown[] }).errors).toHaveLength(1);
      // Still starting: the lock is still held.
      expect((await fetch(`${base}/health`)).status).toBe(503);

      await holder.query('SELECT pg_advisory_unlock(72707369)');
      server = await starting;
      expect((await fetch(`${base}/health`)).status).toBe(200);
    } finally {
      await holder.end();
      await server?.close();
      await database.drop();
    }
  });
});

describe('graceful close', () => {
  it('finishes an in-flight request, closes WebSockets with 1001, ends SSE streams, then resolves', async () => {
    const gateway = await startGateway();
    let closed = false;
    try {
      const token = await gateway.token({ sub: 'closer' });
      const wsCloses: { code: number; reason: string }[] = [];
      const ws = wsClient(gateway.url, token, { onClose: (event) => wsCloses.push(event) });
      const overWs = subscribe(ws, ContextUpdatedDocument, { personId: 'closer' });
      const sse = sseClient(gateway.url, token);
      const overSse = subscribe(sse, ContextUpdatedDocument, { personId: 'closer' });
      const raw = await rawWs(gateway.url);
      raw.init(token);
      await acked(raw);
      await gateway.untilSubscribers(2);

      // A request whose headers the server has taken (100-continue proves it) but whose body is still on its way.
      const body = JSON.stringify({ query: print(UpdateContextDocument), variables: updateInput('closer-elsewhere', 'inflight') });
      const url = new URL(gateway.url);
      const inflight = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${await gateway.token({ sub: 'ingest', roles: ['ingest'] })}`,
          expect: '100-continue',
        },
      });
      const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
        inflight.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        inflight.on('error', reject);
      });
      await new Promise<void>((resolve) => {
        inflight.once('continue', resolve);
        inflight.flushHeaders();
      });

      // What each subscription yields next: the stream has to end (or fail), not hang.
      const settle = (next: Promise<unknown>) =>
        next.then(
          () => 'event',
          (error: unknown) => (error instanceof Error && /within/.test(error.message) ? 'hanging' : 'ended'),
        );
      const wsOutcome = settle(overWs.next(8_000));
      const sseOutcome = settle(overSse.next(8_000));

      const started = Date.now();
      const closing = gateway.close().then(() => (closed = true));
      inflight.end(body);

      const answered = await response;
      expect(answered.status).toBe(200);
      const result = JSON.parse(answered.body) as { data?: { updateContext: { trace: { id: string } } }; errors?: unknown };
      expect(result.errors).toBeUndefined();
      expect(result.data?.updateContext.trace.id).toBeTruthy();

      expect((await raw.closed).code).toBe(1001);
      await closing;
      // Well under the 5 s keep-alive timeout and the 10 s force-close: nothing was left to time out.
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(wsCloses.map((event) => event.code)).toEqual([1001]);
      // Both subscriptions ended rather than being left hanging; the in-flight update was published before the end.
      expect(await wsOutcome).toBe('ended');
      expect(await sseOutcome).toBe('ended');
      // Nothing listens any more.
      await expect(fetch(`${origin(gateway.url)}/health`)).rejects.toThrow();
      await ws.dispose();
      sse.dispose();
    } finally {
      if (!closed) await gateway.close();
    }
  });
});

describe('open development mode (no JWT_SECRET, no JWKS_URL)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ JWT_SECRET: '', HOST: '' });
  });
  afterAll(() => gateway?.close());

  it('binds to 127.0.0.1 and serves every operation without a token', async () => {
    expect(gateway.config.auth.mode).toBe('open');
    expect(gateway.config.host).toBe('127.0.0.1');
    expect(new URL(gateway.url).hostname).toBe('127.0.0.1');
    const written = dataOf(await gateway.execute(UpdateContextDocument, updateInput('anyone'), null));
    expect(written.updateContext.trace.personId).toBe('anyone');
    // Even admin-only queries: the development viewer may do everything.
    const stats = dataOf(await gateway.execute(TraceStatsDocument, {}, null));
    expect(stats.traceStats.totalTraces).toBe(1);
  });

  it('accepts a WebSocket without a token', async () => {
    const ws = await rawWs(gateway.url);
    try {
      ws.init(null);
      await acked(ws);
      ws.subscribe('q', '{ __typename }');
      expect((await ws.waitFor((m) => m.id === 'q')).payload).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await ws.close();
    }
  });
});

describe('JWKS_URL mode', () => {
  let jwks: Server;
  let gateway: TestGateway;
  let key: CryptoKey;
  let stranger: CryptoKey;
  let jwksRequests = 0;

  const sign = (privateKey: CryptoKey, claims: Record<string, unknown>, kid = 'gateway-test') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setSubject('jwks-user').setIssuedAt().setExpirationTime('1h').sign(privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    stranger = (await generateKeyPair('RS256')).privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'gateway-test', alg: 'RS256', use: 'sig' };
    jwks = createHttpServer((req, res) => {
      jwksRequests += 1;
      if (req.url !== '/.well-known/jwks.json') return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    gateway = await startGateway({ JWT_SECRET: '', JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` });
  });
  afterAll(async () => {
    await gateway?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('accepts a token signed by a key the JWKS publishes', async () => {
    expect(gateway.config.auth.mode).toBe('jwks');
    const token = await sign(key, { roles: ['admin'] });
    const stats = await gateway.execute(TraceStatsDocument, {}, token);
    expect(stats.errors).toBeUndefined();
    expect(stats.data?.traceStats.totalTraces).toBe(0);
    const written = dataOf(await gateway.execute(UpdateContextDocument, updateInput('jwks-user'), await sign(key, {})));
    expect(written.updateContext.trace.personId).toBe('jwks-user');
    expect(jwksRequests).toBeGreaterThan(0);
  });

  it.each([
    ['another key under the same kid', () => sign(stranger, { roles: ['admin'] })],
    ['another key under an unknown kid', () => sign(stranger, { roles: ['admin'] }, 'unknown-kid')],
    ['the HS256 test secret', () => new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime('1h').sign(new TextEncoder().encode(TEST_JWT_SECRET))],
  ])('answers UNAUTHENTICATED (401) to a token signed with %s', async (_, make) => {
    const result = await gateway.execute(TraceStatsDocument, {}, await make());
    expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
    expect(result.status).toBe(401);
    expect(result.data ?? null).toBeNull();
  });

  it('checks WebSocket tokens against the JWKS too', async () => {
    const good = await rawWs(gateway.url);
    const bad = await rawWs(gateway.url);
    try {
      good.init(await sign(key, {}));
      bad.init(await sign(stranger, {}));
      await acked(good);
      expect((await bad.closed).code).toBe(4403);
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
  });
});

describe('loadConfig', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems;
    }
    throw new Error('loadConfig accepted the configuration');
  };

  it('has the defaults of the operators contract', () => {
    const open = loadConfig({});
    expect(open).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      production: false,
      store: { provider: 'sqlite', url: 'file:./data/replay.db', filename: './data/replay.db' },
      redisUrl: undefined,
      auth: { mode: 'open' },
      retentionDays: 30,
      replaySessionTtlMinutes: 30,
      playbackTicksPerSecond: 10,
      logLevel: 'info',
      limits: { maxPageSize: 1000 },
    });
    // With auth configured the default host is every interface.
    const secured = loadConfig({ JWT_SECRET: TEST_JWT_SECRET });
    expect(secured.host).toBe('0.0.0.0');
    expect(secured.auth).toEqual({ mode: 'secret', secret: TEST_JWT_SECRET });
    expect(loadConfig({ JWKS_URL: 'https://issuer.example/jwks.json' }).auth.mode).toBe('jwks');
    // Blank variables count as unset.
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' })).toMatchObject({ port: 4000, logLevel: 'info' });
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '10.0.0.5',
      DATABASE_URL: 'postgres://u:p@db:5432/replay',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: TEST_JWT_SECRET,
      RETENTION_DAYS: '7',
      REPLAY_SESSION_TTL_MINUTES: '5',
      PLAYBACK_TICKS_PER_SECOND: '2.5',
      MAX_PAGE_SIZE: '200',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '10.0.0.5',
      production: true,
      store: { provider: 'postgresql', url: 'postgres://u:p@db:5432/replay' },
      redisUrl: 'redis://cache:6379',
      retentionDays: 7,
      replaySessionTtlMinutes: 5,
      playbackTicksPerSecond: 2.5,
      logLevel: 'debug',
      limits: { maxPageSize: 200 },
    });
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/replay' }).store.provider).toBe('postgresql');
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://db/replay',
      REDIS_URL: 'http://cache',
      JWT_SECRET: 'short',
      RETENTION_DAYS: '0',
      REPLAY_SESSION_TTL_MINUTES: '-1',
      PLAYBACK_TICKS_PER_SECOND: 'fast',
      MAX_PAGE_SIZE: '1.5',
      LOG_LEVEL: 'loud',
    });
    const named = problems.map((p) => p.split(':')[0]);
    expect(new Set(named)).toEqual(
      new Set(['PORT', 'DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'RETENTION_DAYS', 'REPLAY_SESSION_TTL_MINUTES', 'PLAYBACK_TICKS_PER_SECOND', 'MAX_PAGE_SIZE', 'LOG_LEVEL']),
    );
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ JWKS_URL: 'ftp://keys.example/jwks' })).toThrow(/JWKS_URL/);
  });

  it('refuses production without authentication', () => {
    expect(problemsOf({ NODE_ENV: 'production' }).join('\n')).toMatch(/JWT_SECRET.*JWKS_URL|JWKS_URL.*JWT_SECRET/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET }).production).toBe(true);
  });

  it('refuses open development mode on any host but loopback', () => {
    expect(problemsOf({ HOST: '0.0.0.0' }).join('\n')).toMatch(/HOST/);
    expect(loadConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(loadConfig({ HOST: '0.0.0.0', JWT_SECRET: TEST_JWT_SECRET }).host).toBe('0.0.0.0');
  });

  it('refuses JWT_SECRET together with JWKS_URL', () => {
    expect(problemsOf({ JWT_SECRET: TEST_JWT_SECRET, JWKS_URL: 'https://issuer.example/jwks.json' }).join('\n')).toMatch(
      /JWT_SECRET.*JWKS_URL/,
    );
  });

  it('reports value problems and combination problems together', () => {
    const problems = problemsOf({ PORT: 'eighty', HOST: '0.0.0.0' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['HOST', 'PORT']);
  });
});

describe('the main process', () => {
  it('says it runs in open development mode on 127.0.0.1, and stops cleanly on SIGTERM', async () => {
    const database = await freshDatabase();
    const child = spawnGateway({ DATABASE_URL: database.url, PORT: '0', LOG_LEVEL: 'warn' });
    try {
      const url = await child.ready;
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expect(child.output().stdout).toMatch(/OPEN DEVELOPMENT MODE/);
      expect((await fetch(`${origin(url)}/health`)).status).toBe(200);
      const { code } = await stopProcess(child, 'SIGTERM');
      expect(code).toBe(0);
    } finally {
      await stopProcess(child, 'SIGKILL');
      await database.drop();
    }
  });

  // Store-independent: run once, in the SQLite project.
  it.skipIf(testProvider() !== 'sqlite')('refuses to start on a bad configuration, naming the variables', async () => {
    const child = spawnGateway({ PORT: 'eighty', NODE_ENV: 'production', LOG_LEVEL: 'loud' });
    const { code } = await child.exited;
    expect(code).toBe(1);
    const { stderr } = child.output();
    expect(stderr).toMatch(/PORT/);
    expect(stderr).toMatch(/LOG_LEVEL/);
    expect(stderr).toMatch(/JWT_SECRET/);
  });
});
