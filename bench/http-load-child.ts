// The load generator process `http-load.ts` starts (pinned to its own core): answers each POSTed `LoadJob` with a
// `LoadResult`. Latencies are kept as exact floats per request (autocannon's histogram rounds to whole
// milliseconds, coarser than a fast baseline's answers).
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { serveJson } from './baselines/json-server.js';
import type { LoadJob, LoadResult } from './http-load.js';

const HEADERS = { 'content-type': 'application/json' };

/** A 200 whose body carries no GraphQL `errors` (GraphQL reports failures with a 200). */
const answered = (status: number | undefined, body: string) => status === 200 && !body.includes('"errors"');

const bodyOf = (job: LoadJob, n: number) => job.body.replaceAll('{{n}}', String(n % job.variants));

function summary(latencies: number[], seconds: number, failures: number): LoadResult {
  const sorted = latencies.sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
  return { requests: sorted.length, requestsPerSecond: sorted.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), failures };
}

/** Closed loop: autocannon keeps `connections` requests in flight (keep-alive) for `job.seconds`. */
function closedLoop(job: LoadJob, connections: number): Promise<LoadResult> {
  let n = 0;
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        connections,
        duration: job.seconds,
        // autocannon notices the end of a run on its sampling tick (1 s by default), so a short run would last 1 s.
        sampleInt: 100,
        requests: [{ method: 'POST', headers: HEADERS, setupRequest: (req) => ({ ...req, body: bodyOf(job, n++) }) }],
        verifyBody: (body) => answered(200, String(body)),
      },
      (error, result) => {
        if (error) return reject(error);
        resolve(summary(latencies, result.duration, result.errors + result.non2xx + result.mismatches));
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status === 200) latencies.push(ms);
    });
  });
}

/**
 * Open loop: request i is due at start + i / rate and sent then (a late timer sends every overdue one at once),
 * however slowly earlier ones are answered; its latency runs from when it was due.
 */
async function openLoop(job: LoadJob, rate: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.max(1, Math.round(rate * job.seconds));
  const latencies: number[] = [];
  let failures = 0;
  let sent = 0;
  let settled = 0;
  const start = performance.now();
  const dueAt = (i: number) => start + (i * 1000) / rate;
  await new Promise<void>((resolve) => {
    const settle = (ok: boolean, due: number) => {
      if (ok) latencies.push(performance.now() - due);
      else failures += 1;
      if (++settled === total) resolve();
    };
    const send = (i: number) => {
      const due = dueAt(i);
      const req = request(job.url, { method: 'POST', headers: HEADERS, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => settle(answered(res.statusCode, body), due));
      });
      req.on('error', () => settle(false, due));
      req.end(bodyOf(job, i));
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && dueAt(sent) <= now) send(sent++);
      if (sent < total) setTimeout(tick, dueAt(sent) - now);
    };
    tick();
  });
  agent.destroy();
  return summary(latencies, (performance.now() - start) / 1000, failures);
}

serveJson('http-load', (body) => {
  const job = body as LoadJob;
  return 'rate' in job ? openLoop(job, job.rate) : closedLoop(job, job.connections);
});
