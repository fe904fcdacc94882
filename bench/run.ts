// npm run bench [-- NAME...]: runs the benchmarks (all, or those named) and writes bench/results.json.
// BENCH_SIZE=smoke runs them on tiny data; BENCH_DATABASE_URL picks the store (default: a temp SQLite file).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestBulk } from './ingest-bulk.js';
import { seek } from './seek.js';
import { timeTravel } from './time-travel.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const benchmarks: Record<string, (size: BenchmarkSize, databaseUrl: string) => Promise<BenchmarkResult>> = {
  'ingest-bulk': ingestBulk,
  seek,
  'time-travel': timeTravel,
};

export async function runBenchmarks(names: readonly string[], size: BenchmarkSize, output: string | null) {
  const unknown = names.filter((name) => !(name in benchmarks));
  if (unknown.length > 0) throw new Error(`Unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}`);
  const results: (BenchmarkResult & { size: BenchmarkSize; node: string; date: string })[] = [];
  for (const name of names.length > 0 ? names : Object.keys(benchmarks)) {
    const dir = mkdtempSync(join(tmpdir(), 'replay-bench-'));
    try {
      const result = await benchmarks[name]!(size, process.env.BENCH_DATABASE_URL ?? `file:${join(dir, 'bench.db')}`);
      results.push({ ...result, size, node: process.version, date: new Date().toISOString() });
      console.log(`${result.name}: ratio ${result.ratio.toFixed(3)} (min ${result.min.toFixed(3)}, max ${result.max.toFixed(3)}), target ${result.target}: ${result.pass ? 'pass' : 'MISS'}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
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
  const size = process.env.BENCH_SIZE === 'smoke' ? 'smoke' : 'full';
  await runBenchmarks(process.argv.slice(2), size, new URL('./results.json', import.meta.url).pathname);
}
