import { randomUUID } from 'node:crypto';
import { acked, rawWs } from '../test/support/raw-ws.js';
import { postGraphQL } from './graphql-post.js';
import { interleavedRatio, median, toResult } from './measure.js';
import { monotonicMs } from './monotonic-clock.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';
import { createProcessGroup, SESSION_SUBSCRIPTION, untilSubscribers, type ServerProcess, type Swarm } from './ws-processes.js';

const UPDATE = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { trace { id } } }`;

/** One device's context as a dashboard follows it: a dozen keys of mixed types (about 400 bytes of JSON). */
const SOURCE_DATA = {
  location: { lat: 52.5208, lon: 13.4094, accuracyM: 12 },
  activity: 'walking',
  heartRate: 72,
  steps: 5_210,
  battery: 0.64,
  network: 'wifi',
  screenOn: true,
  app: 'maps',
  noiseDb: 48.5,
  ambientLux: 310,
  calendar: { busy: false, next: 'standup' },
  tags: ['commute', 'outdoor'],
};

/** The baseline's publish: the message as the request body (its answer is an empty 204). */
async function postMessage(url: URL, message: string) {
  const response = await fetch(url, { method: 'POST', body: message });
  if (!response.ok) throw new Error(`publish failed: ${response.status}`);
  await response.arrayBuffer();
}

/**
 * The exact `next` message the gateway sends a subscriber for one update (with a UUID operation id, as client
 * libraries use), so the baseline broadcasts the same bytes.
 */
async function captureNext(gateway: ServerProcess, updateBody: string) {
  const client = await rawWs(gateway.url);
  try {
    client.init(null);
    await acked(client);
    client.subscribe(randomUUID(), SESSION_SUBSCRIPTION.query, SESSION_SUBSCRIPTION.variables);
    await untilSubscribers(gateway, 1);
    await postGraphQL(gateway.url, updateBody);
    // The gateway serialises with JSON.stringify, so re-serialising the parsed message gives back its exact text.
    return JSON.stringify(await client.waitFor((message) => message.type === 'next'));
  } finally {
    await client.close();
    await untilSubscribers(gateway, 0);
  }
}

/**
 * Fan-out of one session's updates to many graphql-ws subscribers (`contextUpdated`), against a raw `ws` server
 * broadcasting the same pre-serialised message to as many bare connections. This process publishes to each side
 * over HTTP as one producer would, each event once the previous one was answered: to the gateway an
 * `updateContext` mutation, to the baseline a `POST /publish` of the very message the gateway sends for such an
 * update. (Publishing from the swarm instead held every answer behind a thousand receipts.) Deliveries/s run from
 * the first publish to the last receipt, latency from just before each publish to each receipt, on the clock all
 * processes share. The servers run on core 0, both swarms on core 1.
 */
export async function fanout(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const subscribers = size === 'full' ? 1_000 : 20;
  const events = size === 'full' ? 60 : 3;
  const { personId, sessionId } = SESSION_SUBSCRIPTION.variables;
  const input = { personId, sessionId, sources: [{ source: 'device', data: SOURCE_DATA }] };
  const updateBody = JSON.stringify({ query: UPDATE, variables: { input } });

  const processes = createProcessGroup();
  try {
    const [gateway, baseline, gatewaySwarm, baselineSwarm] = await Promise.all([
      processes.gateway(databaseUrl),
      processes.baseline(),
      processes.swarm(),
      processes.swarm(),
    ]);
    const payload = await captureNext(gateway, updateBody);
    await gatewaySwarm.connect(gateway.wsUrl, subscribers, SESSION_SUBSCRIPTION);
    await untilSubscribers(gateway, subscribers);
    await baselineSwarm.connect(baseline.wsUrl, subscribers);

    const p99 = { gateway: [] as number[], baseline: [] as number[] };
    const p50 = { gateway: [] as number[], baseline: [] as number[] };
    /** One burst: `events` publishes, each after the previous answer; the figures from the side's swarm. */
    const burst = (side: 'gateway' | 'baseline', swarm: Swarm, publish: () => Promise<unknown>) => async () => {
      await swarm.arm(events);
      const publishedAt: number[] = [];
      for (let k = 0; k < events; k += 1) {
        publishedAt.push(monotonicMs());
        await publish();
      }
      const figures = await swarm.collect(publishedAt);
      p99[side].push(figures.p99Ms);
      p50[side].push(figures.p50Ms);
      return figures.deliveriesPerSecond;
    };
    const baselineUrl = new URL('publish', baseline.url);
    const throughput = await interleavedRatio(
      size === 'full' ? 5 : 1,
      burst('gateway', gatewaySwarm, () => postGraphQL(gateway.url, updateBody)),
      burst('baseline', baselineSwarm, () => postMessage(baselineUrl, payload)),
    );
    // The latency ratio of each round, pairing the same rounds as the throughput ratio (the warm-up dropped).
    const p99Ratios = p99.gateway.slice(1).map((ms, i) => ms / p99.baseline[i + 1]!);
    const p99Ratio = median(p99Ratios);
    const result = toResult('fanout', throughput, { atLeast: 0.5 }, {
      subscribers,
      eventsPerBurst: events,
      payloadBytes: Buffer.byteLength(payload),
      gatewayDeliveriesPerSecond: throughput.a,
      baselineDeliveriesPerSecond: throughput.b,
      gatewayP50Ms: median(p50.gateway.slice(1)),
      baselineP50Ms: median(p50.baseline.slice(1)),
      gatewayP99Ms: median(p99.gateway.slice(1)),
      baselineP99Ms: median(p99.baseline.slice(1)),
      p99Ratio,
      p99RatioMin: Math.min(...p99Ratios),
      p99RatioMax: Math.max(...p99Ratios),
    });
    return { ...result, target: `${result.target}; p99 <= 2x`, pass: result.pass && p99Ratio <= 2 };
  } finally {
    await processes.stop();
  }
}
