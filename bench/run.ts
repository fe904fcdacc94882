// npm run bench [-- NAME...]: runs the benchmarks (all, or those named) and writes bench/results.json.
// BENCH_SIZE=smoke runs them on tiny data; BENCH_DATABASE_URL picks the store (default: a temp SQLite file).
// The *-postgresql variants run on a fresh database of the PostgreSQL that TEST_DATABASE_URL (or the default
// local one) names, and are skipped, with one line saying so, when it does not answer.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CLIENT_CPUS } from './cores.js';
import { fanout } from './fanout.js';
import { ingestBulk } from './ingest-bulk.js';
import { ingestSingle } from './ingest-single.js';
import { playback } from './playback.js';
import { queryTraces } from './query-traces.js';
import { seek } from './seek.js';
import { subscriberMemory } from './subscriber-memory.js';
import { timeTravel } from './time-travel.js';
import { freshDatabase } from '../test/support/databases.js';
import { postgresAvailability } from '../test/support/postgres-availability.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

type Benchmark = (size: BenchmarkSize, databaseUrl: string) => Promise<BenchmarkResult>;
/** The same benchmark against PostgreSQL. */
const onPostgres = (benchmark: Benchmark) => ({ postgres: benchmark });

const benchmarks: Record<string, Benchmark | { postgres: Benchmark }> = {
  fanout,
  'ingest-bulk': ingestBulk,
  'ingest-bulk-postgresql': onPostgres(ingestBulk),
  'ingest-single': ingestSingle,
  playback,
  'query-traces': queryTraces,
  'query-traces-postgresql': onPostgres(queryTraces),
  seek,
  'subscriber-memory': subscriberMemory,
  'time-travel': timeTravel,
};

/** A fresh store for one benchmark: a temp SQLite file (or BENCH_DATABASE_URL), or a new PostgreSQL database. */
async function storeFor(benchmark: Benchmark | { postgres: Benchmark }): Promise<{ url: string; drop(): Promise<void> } | { skipped: string }> {
  if ('postgres' in benchmark) {
    const postgres = await postgresAvailability();
    return postgres.available ? freshDatabase('postgresql') : { skipped: postgres.reason };
  }
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, drop: async () => undefined };
  return freshDatabase('sqlite');
}

export async function runBenchmarks(names: readonly string[], size: BenchmarkSize, output: string | null) {
  const unknown = names.filter((name) => !(name in benchmarks));
  if (unknown.length > 0) throw new Error(`Unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}`);
  const results: (BenchmarkResult & { size: BenchmarkSize; node: string; date: string })[] = [];
  for (const name of names.length > 0 ? names : Object.keys(benchmarks)) {
    const benchmark = benchmarks[name]!;
    const store = await storeFor(benchmark);
    if ('skipped' in store) {
      console.log(`${name}: skipped (${store.skipped})`);
      continue;
    }
    try {
      const result = await ('postgres' in benchmark ? benchmark.postgres : benchmark)(size, store.url);
      results.push({ ...result, size, node: process.version, date: new Date().toISOString() });
      console.log(`${result.name}: ratio ${result.ratio.toFixed(3)} (min ${result.min.toFixed(3)}, max ${result.max.toFixed(3)}), target ${result.target}: ${result.pass ? 'pass' : 'MISS'}`);
    } finally {
      await store.drop();
    }
  }
  if (output) {
    // Running some benchmarks keeps the others' last results.
    const kept = existsSync(output) ? (JSON.parse(readFileSync(output, 'utf8')) as { name: string }[]) : [];
    const merged = [...kept.filter((old) => !results.some((r) => r.name === old.name)), ...results].sort((a, b) => a.name.localeCompare(b.name));
    writeFileSync(output, `${JSON.stringify(merged, null, 2)}\n`);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // The load generators and in-process baselines run here (see cores.ts).
  if (CLIENT_CPUS) execFileSync('taskset', ['-a', '-p', '-c', CLIENT_CPUS, String(process.pid)], { stdio: 'ignore' });
  const size = process.env.BENCH_SIZE === 'smoke' ? 'smoke' : 'full';
  await runBenchmarks(process.argv.slice(2), size, new URL('./results.json', import.meta.url).pathname);
}
