import { createLogger } from 'graphql-yoga';
import { developmentViewer } from '../src/auth/viewer.js';
import { loadConfig } from '../src/config.js';
import { createLocalPubSub } from '../src/realtime/pubsub.js';
import { createServer } from '../src/server.js';
import { createServices } from '../src/services/index.js';
import { openDatabase } from '../src/store/database.js';
import { graphqlPoster } from './graphql-post.js';
import { interleavedRatio, perCallMs, toResult } from './measure.js';
import { telemetry } from './telemetry.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const STATE = `query ($id: ID!, $tick: Int!) { replaySession(id: $id) { state(tick: $tick) { tick agents { id zone stance position { x y } } } } }`;

/**
 * `state(tick)` at the end of a long run ÷ near its start, over HTTP, with maxAgents 1000. Both ticks sit at the
 * same place after a keyframe, and the run is left RUNNING so nothing is served from the completed-run cache:
 * every call rebuilds from its keyframe, whose cost must not grow with the tick number.
 */
export async function seek(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const agents = size === 'full' ? 10_000 : 200;
  const ticks = size === 'full' ? 1_000 : 40;
  const interval = 5;
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent' });

  // Seed through the product's own recording service (in-process: the recording path is `ingest-bulk`'s subject).
  const database = await openDatabase(config.store);
  const services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => new Date() });
  const data = telemetry(agents, ticks, 0.1);
  await services.recordSimulation(developmentViewer, { nodeId: 'seek', keyframeInterval: interval, agents: data[0]!.agents.map(({ id }) => ({ id })) });
  const seedStart = Date.now();
  for (let start = 0; start < ticks; start += 20) await services.recordTicks(developmentViewer, 'seek', data.slice(start, start + 20));
  const seedSeconds = (Date.now() - seedStart) / 1000;
  await database.close();

  const server = await createServer(config, createLogger('silent'));
  const post = graphqlPoster(server.url);
  const loaded = await post<{ loadReplay: { id: string } }>(
    `mutation { loadReplay(input: { nodeId: "seek", downsampling: { maxAgents: 1000 }, preloadTicks: 0 }) { id } }`,
  );
  const id = loaded.loadReplay.id;
  const last = ticks - 1;
  const nearStart = last % interval; // the same offset after a keyframe as the last tick
  const calls = size === 'full' ? 20 : 3;
  const result = await interleavedRatio(
    size === 'full' ? 7 : 2,
    () => perCallMs(calls, () => post(STATE, { id, tick: last })),
    () => perCallMs(calls, () => post(STATE, { id, tick: nearStart })),
  );
  await server.close();
  return toResult('seek', result, { atMost: 1.5 }, {
    agents,
    ticks,
    keyframeInterval: interval,
    maxAgents: 1000,
    seedSeconds,
    msAtLastTick: result.a,
    msNearStart: result.b,
  });
}
