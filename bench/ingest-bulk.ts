import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { TickInput } from '../src/services/simulation-recordings.js';
import { spawnGateway, stopProcess } from '../test/support/process.js';
import { SERVER_CPUS } from './cores.js';
import { graphqlPoster, postGraphQL } from './graphql-post.js';
import { interleavedRatio, median, secondsOf, toResult } from './measure.js';
import { telemetry } from './telemetry.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const RECORD_TICKS = `mutation ($nodeId: ID!, $ticks: [TickInput!]!) { recordTicks(nodeId: $nodeId, ticks: $ticks) { recordedTicks } }`;
const RECORD_SIMULATION = `mutation ($input: RecordSimulationInput!) { recordSimulation(input: $input) { nodeId } }`;
const TABLE = 'CREATE TABLE bench_agent_ticks (node TEXT, tick INTEGER, agent TEXT, zone TEXT, stance REAL, emotion REAL, influence REAL, PRIMARY KEY (node, tick, agent))';

type Row = [node: string, tick: number, agent: string, zone: string, stance: number, emotion: number, influence: number];
const rowsOf = (node: string, data: readonly TickInput[]): Row[] =>
  data.flatMap((t) => t.agents.map((a): Row => [node, t.tick, a.id, a.zone, a.stance, a.emotion, a.influenceScore]));

/** Baseline on SQLite: one prepared INSERT per row, all in one transaction (WAL, synchronous=FULL like the gateway). */
function sqliteBaseline() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
  const db = new BetterSqlite3(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(TABLE);
  const insert = db.prepare('INSERT INTO bench_agent_ticks VALUES (?, ?, ?, ?, ?, ?, ?)');
  const store = db.transaction((rows: Row[]) => {
    for (const row of rows) insert.run(...row);
  });
  return {
    store: async (rows: Row[]) => secondsOf(async () => store(rows)),
    close: async () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Baseline on PostgreSQL: the faster of COPY (pg-copy-streams) and multi-row INSERTs, each in one transaction
 * against the same server and database as the gateway (a table of its own).
 */
async function postgresBaseline(url: string, figures: { copy: number[]; insert: number[] }) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(TABLE);
  const timed = async (each: number[], work: () => Promise<unknown>) => {
    const seconds = await secondsOf(async () => {
      await client.query('BEGIN');
      await work();
      await client.query('COMMIT');
    });
    each.push(seconds);
    return seconds;
  };
  const copy = (rows: Row[]) =>
    pipeline(
      Readable.from(rows.map((row) => `${row.join('\t')}\n`)),
      client.query(copyFrom('COPY bench_agent_ticks FROM STDIN')),
    );
  const insert = async (rows: Row[], suffix: string) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      const values = chunk.map((_, r) => `(${Array.from({ length: 7 }, (_, c) => `$${r * 7 + c + 1}`).join(', ')})`);
      await client.query(`INSERT INTO bench_agent_ticks VALUES ${values.join(', ')}`, chunk.flatMap((row) => [`${row[0]}${suffix}`, ...row.slice(1)]));
    }
  };
  return {
    // Both ways store the same rows (the INSERT under other node ids); the faster one is the baseline.
    store: async (rows: Row[]) => {
      const copySeconds = await timed(figures.copy, () => copy(rows));
      const insertSeconds = await timed(figures.insert, () => insert(rows, '-insert'));
      return Math.min(copySeconds, insertSeconds);
    },
    close: () => client.end(),
  };
}

/**
 * Agent-tick rows/s stored by `recordTicks` over HTTP, in batches of 100 ticks (keyframes, changes, derived zone
 * populations, transitions and key moments included) ÷ the fastest straightforward store of the same rows with no
 * GraphQL and no derivations. The gateway runs in its own process pinned to core 0; request bodies are serialised
 * before the clock starts, so the client's JSON work is not counted against the gateway.
 */
export async function ingestBulk(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const postgres = databaseUrl.startsWith('postgres');
  const agents = size === 'full' ? 1_000 : 50;
  const ticks = size === 'full' ? 200 : 20;
  const batch = size === 'full' ? 100 : 10;
  const rows = agents * ticks;
  const data = telemetry(agents, ticks, 1);
  const roster = { agents: data[0]!.agents.map(({ id }) => ({ id })) };
  let round = 0;

  const gatewayProcess = spawnGateway(
    { DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent', MAX_BODY_BYTES: String(512 * 1024 * 1024) },
    30_000,
    SERVER_CPUS,
  );
  const pgFigures = { copy: [] as number[], insert: [] as number[] };
  const baselineStore = postgres ? await postgresBaseline(databaseUrl, pgFigures) : sqliteBaseline();
  try {
    const url = await gatewayProcess.ready;
    const post = graphqlPoster(url);
    const gateway = async () => {
      const nodeId = `bench-${round++}`;
      await post(RECORD_SIMULATION, { input: { nodeId, ...roster } });
      const bodies: Buffer[] = [];
      for (let i = 0; i < ticks; i += batch) bodies.push(Buffer.from(JSON.stringify({ query: RECORD_TICKS, variables: { nodeId, ticks: data.slice(i, i + batch) } })));
      return rows / (await secondsOf(async () => {
        for (const body of bodies) await postGraphQL(url, body);
      }));
    };
    const baseline = async () => rows / (await baselineStore.store(rowsOf(`base-${round++}`, data)));

    const result = await interleavedRatio(size === 'full' ? 5 : 1, gateway, baseline);
    const perSecond = (seconds: number[]) => rows / median(seconds);
    return toResult(postgres ? 'ingest-bulk-postgresql' : 'ingest-bulk', result, { atLeast: 0.5 }, {
      agents,
      ticks,
      ticksPerRequest: batch,
      gatewayRowsPerSecond: result.a,
      baselineRowsPerSecond: result.b,
      ...(postgres ? { copyRowsPerSecond: perSecond(pgFigures.copy), multiRowInsertRowsPerSecond: perSecond(pgFigures.insert) } : {}),
    });
  } finally {
    await stopProcess(gatewayProcess);
    await baselineStore.close();
  }
}
