import { developmentViewer } from '../src/auth/viewer.js';
import { loadConfig, type Config } from '../src/config.js';
import { createLocalPubSub } from '../src/realtime/pubsub.js';
import { createServices } from '../src/services/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { postGraphQL } from './graphql-post.js';
import { withGatewayAndBaseline, type LoadResult } from './http-load.js';
import { interleavedRatio, median, secondsOf, toResult } from './measure.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const TRACES = `query ($personId: ID!) {
  traces(filter: { personId: $personId }, first: 50) {
    nodes { id personId sessionId eventType timestamp receivedAt eventData contextSnapshot }
    pageInfo { hasNextPage endCursor }
  }
}`;
const CONCURRENCY = 16;
const SESSIONS = 10;
const MOODS = ['calm', 'tense', 'curious'];
const P99_TARGET = 3;

/** The SQL that differs between the stores for copying the seeded person (everything else is the same text). */
const COPY_SQL = {
  sqlite: {
    copies: (count: number) => `WITH RECURSIVE copies(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM copies WHERE k < ${count})`,
    // A UUID with its first 8 hex digits replaced by the copy number: unique, and each copy's ids clustered.
    id: `printf('%08x', k) || substr(id, 9)`,
    secondaryIndexes: `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'traces' AND sql IS NOT NULL`,
  },
  postgresql: {
    copies: (count: number) => `WITH copies(k) AS (SELECT generate_series(1, ${count}))`,
    id: `lpad(to_hex(k), 8, '0') || substr(id, 9)`,
    secondaryIndexes: `SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE tablename = 'traces' AND indexname <> 'traces_pkey'`,
  },
};
const TRACE_COLUMNS = `session_id, seq, event_type, "timestamp", received_at, event_data, context_after, snapshot_stored, replay_of_id, replay_source, replayed_by`;
const SESSION_COLUMNS = `session_id, trace_count, last_seq, first_at, last_at, context`;

/**
 * `person-0`'s history is written through the product's own `updateContext` (sessions, fusion, snapshots: rows
 * exactly as the gateway writes them), then copied inside the store to `person-1` ... `person-<persons - 1>`.
 * Timestamps lie within the last day, clear of the retention job the gateway runs at start-up.
 */
async function seedTraces(config: Config, persons: number, tracesPerPerson: number) {
  const database = await openDatabase(config.store);
  try {
    const services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => new Date() });
    const start = Date.now() - 86_400_000;
    for (let i = 0; i < tracesPerPerson; i += 1) {
      await services.updateContext(developmentViewer, {
        personId: 'person-0',
        sessionId: `session-${i % SESSIONS}`,
        sources: [{ source: 'sensor', data: { mood: MOODS[i % MOODS.length], level: i % 7 } }],
        timestamp: new Date(start + i * 1000),
      });
    }
    await copyPerson(database, persons - 1);
  } finally {
    await database.close();
  }
}

/**
 * Copies `person-0`'s traces and sessions to `copies` more persons with new ids, in one transaction that drops
 * the secondary indexes first and rebuilds them from their own definitions last: sorting once is 1.6x faster
 * here than growing six B-trees row by row.
 */
async function copyPerson(database: Database, copies: number) {
  const sql = COPY_SQL[database.provider];
  // The seed is thrown away with the run, so its commit need not wait for the disk (seconds of fsync on SQLite).
  // This connection closes after seeding; the gateway opens its own with the store's synchronous=FULL.
  if (database.provider === 'sqlite') await database.db.$executeRawUnsafe('PRAGMA synchronous = OFF');
  await database.db.$transaction(
    async (tx) => {
      const indexes = await tx.$queryRawUnsafe<{ name: string; sql: string }[]>(sql.secondaryIndexes);
      for (const index of indexes) await tx.$executeRawUnsafe(`DROP INDEX "${index.name}"`);
      await tx.$executeRawUnsafe(`${sql.copies(copies)} INSERT INTO traces (id, person_id, ${TRACE_COLUMNS})
        SELECT ${sql.id}, 'person-' || k, ${TRACE_COLUMNS} FROM copies CROSS JOIN traces WHERE person_id = 'person-0'`);
      await tx.$executeRawUnsafe(`${sql.copies(copies)} INSERT INTO sessions (person_id, ${SESSION_COLUMNS})
        SELECT 'person-' || k, ${SESSION_COLUMNS} FROM copies CROSS JOIN sessions WHERE person_id = 'person-0'`);
      for (const index of indexes) await tx.$executeRawUnsafe(index.sql);
    },
    { timeout: 600_000 },
  );
  // PostgreSQL's autovacuum would analyse the table soon after such a load; done here so every run plans alike.
  if (database.provider === 'postgresql') await database.db.$executeRawUnsafe('ANALYZE traces');
}

/**
 * `traces(filter: { personId }, first: 50)` requests/s at concurrency 16 ÷ a bare `node:http` server running the
 * same keyset SQL on the same database and answering the same JSON (checked equal before measuring); then p50
 * and p99 of both at a fixed offered rate of half the baseline's maximum (the p99 ratio has its own target).
 * Requests cycle through all persons, so the page cache is not one person's pages.
 */
export async function queryTraces(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const name = databaseUrl.startsWith('postgres') ? 'query-traces-postgresql' : 'query-traces';
  const persons = size === 'full' ? 1000 : 10;
  const tracesPerPerson = size === 'full' ? 1000 : 20;
  const seconds = size === 'full' ? 1.2 : 0.5;
  const rounds = size === 'full' ? 5 : 1;
  const seedSeconds = await secondsOf(() => seedTraces(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }), persons, tracesPerPerson));

  // node-pg reads PostgreSQL's zone-less timestamps as local time; the gateway's adapter reads them as UTC.
  const baseline = { name: 'traces-page', env: { DATABASE_URL: databaseUrl, TZ: 'UTC' } };
  return withGatewayAndBaseline({ DATABASE_URL: databaseUrl }, baseline, async ({ gatewayUrl, baselineUrl, load }) => {
    const body = JSON.stringify({ query: TRACES, variables: { personId: 'person-{{n}}' } });
    const one = body.replaceAll('{{n}}', '1');
    const [fromGateway, fromBaseline] = await Promise.all([postGraphQL(gatewayUrl, one), postGraphQL(baselineUrl, one)]);
    if (JSON.stringify(fromGateway) !== JSON.stringify(fromBaseline)) throw new Error(`${name}: the baseline answers differently from the gateway`);

    const requests = (url: string) => ({ url, body, variants: persons, seconds });
    const requestsPerSecond = (url: string) => async () => (await load({ ...requests(url), connections: CONCURRENCY })).requestsPerSecond;
    const throughput = await interleavedRatio(rounds, requestsPerSecond(gatewayUrl), requestsPerSecond(baselineUrl));

    const rate = throughput.b / 2;
    const runs: Record<'gateway' | 'baseline', LoadResult[]> = { gateway: [], baseline: [] };
    const p99At = (side: keyof typeof runs, url: string) => async () => {
      const run = await load({ ...requests(url), rate });
      runs[side].push(run);
      return run.p99Ms;
    };
    const latency = await interleavedRatio(rounds, p99At('gateway', gatewayUrl), p99At('baseline', baselineUrl));
    // The first run of each side was the discarded warm-up.
    const p50 = (side: keyof typeof runs) => median(runs[side].slice(1).map((run) => run.p50Ms));

    const result = toResult(name, throughput, { atLeast: 0.3 }, {
      persons,
      tracesPerPerson,
      seedSeconds,
      concurrency: CONCURRENCY,
      secondsPerRun: seconds,
      gatewayRequestsPerSecond: throughput.a,
      baselineRequestsPerSecond: throughput.b,
      offeredRate: rate,
      gatewayP50Ms: p50('gateway'),
      baselineP50Ms: p50('baseline'),
      gatewayP99Ms: latency.a,
      baselineP99Ms: latency.b,
      p99Ratio: latency.ratio,
      p99RatioMin: latency.min,
      p99RatioMax: latency.max,
    });
    return { ...result, target: `${result.target}; p99 ratio <= ${P99_TARGET}`, pass: result.pass && latency.ratio <= P99_TARGET };
  });
}
