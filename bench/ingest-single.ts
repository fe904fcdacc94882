import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withGatewayAndBaseline } from './http-load.js';
import { interleavedRatio, toResult } from './measure.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const UPDATE_CONTEXT = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { trace { id } duplicate } }`;
const CONCURRENCY = 16;
const PERSONS = 1000;

/**
 * `updateContext` requests/s over HTTP at concurrency 16 (one session per person, 1,000 persons; every update
 * reads its session, inserts its trace and moves the session's head; on SQLite the updates that arrive together
 * share one commit) ÷ a bare `node:http` server storing the same request as one prepared INSERT into the same
 * table, committed per request (WAL, synchronous=FULL on both sides, so each answer waits for its commit to reach
 * the disk). The baseline is SQLite whatever BENCH_DATABASE_URL names.
 */
export async function ingestSingle(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const seconds = size === 'full' ? 2 : 1;
  const body = JSON.stringify({
    query: UPDATE_CONTEXT,
    variables: { input: { personId: 'person-{{n}}', sessionId: 'session-1', sources: [{ source: 'sensor', data: { mood: 'calm', level: 3 } }] } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-context-insert-'));
  try {
    return await withGatewayAndBaseline(
      { DATABASE_URL: databaseUrl },
      { name: 'context-insert', env: { BASELINE_DATABASE: join(dir, 'baseline.db') } },
      async ({ gatewayUrl, baselineUrl, load }) => {
        const requestsPerSecond = (url: string) => async () =>
          (await load({ url, body, variants: PERSONS, seconds, connections: CONCURRENCY })).requestsPerSecond;
        const result = await interleavedRatio(size === 'full' ? 5 : 1, requestsPerSecond(gatewayUrl), requestsPerSecond(baselineUrl));
        return toResult('ingest-single', result, { atLeast: 0.3 }, {
          concurrency: CONCURRENCY,
          persons: PERSONS,
          secondsPerRun: seconds,
          gatewayRequestsPerSecond: result.a,
          baselineRequestsPerSecond: result.b,
        });
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
