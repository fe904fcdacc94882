import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createLogger } from 'graphql-yoga';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { graphqlPoster } from './graphql-post.js';
import { interleavedRatio, toResult } from './measure.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const RECORD_TICKS = `mutation ($nodeId: ID!, $ticks: [TickInput!]!) { recordTicks(nodeId: $nodeId, ticks: $ticks) { recordedTicks } }`;
const RECORD_SIMULATION = `mutation ($input: RecordSimulationInput!) { recordSimulation(input: $input) { nodeId } }`;
const ZONES = ['supporters', 'neutral', 'skeptics'];

/** The same deterministic telemetry for both sides: every agent reports every tick (the heaviest case). */
function telemetry(agents: number, ticks: number) {
  return Array.from({ length: ticks }, (_, tick) => ({
    tick,
    metrics: { adoption: tick / ticks },
    agents: Array.from({ length: agents }, (_, i) => ({
      id: `agent-${i}`,
      zone: ZONES[(i + Math.floor(tick / 7)) % 3]!,
      stance: ((i * 7919 + tick * 104729) % 1000) / 1000,
      emotion: ((i * 31 + tick) % 100) / 100,
      influenceScore: (i % 97) / 97,
    })),
  }));
}

/**
 * Agent-tick rows/s stored by `recordTicks` over HTTP (batches of 100 ticks; keyframes, changes and derived
 * populations and transitions included) ÷ better-sqlite3 prepared inserts of the same rows in one transaction
 * (WAL, synchronous=FULL like the gateway), with no GraphQL, no derivations and no JSON.
 */
export async function ingestBulk(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const agents = size === 'full' ? 10_000 : 50;
  const ticks = size === 'full' ? 200 : 20;
  const batch = 10;
  const rows = agents * ticks;
  const data = telemetry(agents, ticks);
  let round = 0;

  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent', MAX_BODY_BYTES: String(512 * 1024 * 1024) });
  const server = await createServer(config, createLogger('silent'));
  const post = graphqlPoster(server.url);

  const gateway = async () => {
    const nodeId = `bench-${round++}`;
    await post(RECORD_SIMULATION, { input: { nodeId, agents: Array.from({ length: agents }, (_, i) => ({ id: `agent-${i}` })) } });
    const start = process.hrtime.bigint();
    for (let i = 0; i < ticks; i += batch) await post(RECORD_TICKS, { nodeId, ticks: data.slice(i, i + batch) });
    return rows / (Number(process.hrtime.bigint() - start) / 1e9);
  };

  const dir = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
  const baselineDb = new BetterSqlite3(join(dir, 'baseline.db'));
  baselineDb.pragma('journal_mode = WAL');
  baselineDb.pragma('synchronous = FULL');
  baselineDb.exec('CREATE TABLE agent_ticks (node TEXT, tick INTEGER, agent TEXT, zone TEXT, stance REAL, emotion REAL, influence REAL, PRIMARY KEY (node, tick, agent))');
  const insert = baselineDb.prepare('INSERT INTO agent_ticks VALUES (?, ?, ?, ?, ?, ?, ?)');
  const baseline = async () => {
    const node = `base-${round++}`;
    const start = process.hrtime.bigint();
    baselineDb.transaction(() => {
      for (const t of data) for (const a of t.agents) insert.run(node, t.tick, a.id, a.zone, a.stance, a.emotion, a.influenceScore);
    })();
    return rows / (Number(process.hrtime.bigint() - start) / 1e9);
  };

  try {
    const result = await interleavedRatio(size === 'full' ? 3 : 1, gateway, baseline);
    return toResult('ingest-bulk', result, { atLeast: 0.5 }, {
      agents,
      ticks,
      ticksPerRequest: batch,
      gatewayRowsPerSecond: result.a,
      baselineRowsPerSecond: result.b,
    });
  } finally {
    await server.close();
    baselineDb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
