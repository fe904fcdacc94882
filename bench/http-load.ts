// HTTP load against the gateway and its baseline: both servers on core 0, the load generator on core 1 (this
// machine has two), so neither server shares its core with the client measuring it.
import { spawnGateway, spawnScript, stopProcess } from '../test/support/process.js';
import { CLIENT_CPUS, SERVER_CPUS } from './cores.js';


/** What to send: POSTs of `body`, where each `{{n}}` becomes the request's number modulo `variants`. */
interface LoadRequests {
  url: string;
  body: string;
  /** How many distinct keys the requests spread over (persons, sessions ...). */
  variants: number;
  seconds: number;
}

/**
 * One load run. `connections`: a closed loop (autocannon) keeping that many requests in flight, for the most
 * requests/s a server answers. `rate`: an open loop sending that many requests/s on schedule whatever the
 * answers, for latency at a given load (counted from each request's scheduled time, so a server that falls
 * behind is charged for the queue it builds). autocannon's own rate option is not used for this: it sends each
 * connection's quota back to back at the start of every second, which measures bursts at full load.
 */
export type LoadJob = LoadRequests & ({ connections: number } | { rate: number });

export interface LoadResult {
  /** Requests answered with 200 and no GraphQL `errors`. */
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors, non-200 answers and answers carrying `errors`. */
  failures: number;
}

/** Runs a job on the load generator; fails when any request failed (a run that measures error answers measures nothing). */
export type RunLoad = (job: LoadJob) => Promise<LoadResult>;

const loadRunner =
  (generatorUrl: string): RunLoad =>
  async (job) => {
    const response = await fetch(generatorUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job) });
    if (!response.ok) throw new Error(`Load generator failed: ${await response.text()}`);
    const result = (await response.json()) as LoadResult;
    if (result.failures > 0) throw new Error(`${result.failures} requests to ${job.url} failed (${result.requests} answered)`);
    if (result.requests === 0) throw new Error(`No request to ${job.url} was answered within ${job.seconds} s`);
    return result;
  };

export interface GatewayAndBaseline {
  gatewayUrl: string;
  baselineUrl: string;
  load: RunLoad;
}

/**
 * Runs `measure` against the real gateway process (`src/main.ts` with `gatewayEnv`) and the baseline server
 * `bench/baselines/<baseline.name>.ts`, then stops everything, also on failure. Both servers stay up for the
 * whole benchmark, so the interleaved rounds alternate between two warm servers. The load generator
 * (`http-load-child.ts`) is one long-lived process too: a fresh Node process with autocannon costs about a
 * second to start, which a benchmark of a dozen short runs cannot afford.
 */
export async function withGatewayAndBaseline<T>(
  gatewayEnv: Record<string, string>,
  baseline: { name: string; env: Record<string, string> },
  measure: (servers: GatewayAndBaseline) => Promise<T>,
): Promise<T> {
  const gateway = spawnGateway({ PORT: '0', LOG_LEVEL: 'silent', ...gatewayEnv }, 60_000, SERVER_CPUS);
  const server = spawnScript(`bench/baselines/${baseline.name}.ts`, baseline.env, {
    readyPattern: new RegExp(`${baseline.name} ready at (\\S+)`),
    cpus: SERVER_CPUS,
  });
  const generator = spawnScript('bench/http-load-child.ts', {}, { readyPattern: /http-load ready at (\S+)/, cpus: CLIENT_CPUS });
  try {
    const [gatewayUrl, baselineUrl, generatorUrl] = await Promise.all([gateway.ready, server.ready, generator.ready]);
    return await measure({ gatewayUrl, baselineUrl, load: loadRunner(generatorUrl) });
  } finally {
    await Promise.all([gateway, server, generator].map((child) => stopProcess(child)));
  }
}
