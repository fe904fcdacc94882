import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { developmentViewer } from '../src/auth/viewer.js';
import { loadConfig } from '../src/config.js';
import { MAX_PLAYBACK_SPEED } from '../src/domain/playback-pacing.js';
import { seededRandom } from '../src/domain/random.js';
import { createLocalPubSub } from '../src/realtime/pubsub.js';
import { createServices } from '../src/services/index.js';
import type { TickInput } from '../src/services/simulation-recordings.js';
import { openDatabase } from '../src/store/database.js';
import { spawnGateway, stopProcess } from '../test/support/process.js';
import { signToken, TEST_JWT_SECRET } from '../test/support/tokens.js';
import { SERVER_CPUS } from './cores.js';
import { interleavedRatio, secondsOf, toResult } from './measure.js';
import { createPlaybackBaseline } from './playback-baseline.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const ZONES = ['supporters', 'neutral', 'skeptics'];
const NODE_ID = 'playback';

/** Everything a dashboard draws from a frame, so the gateway builds and sends all of what the baseline builds. */
const PLAYBACK = `subscription ($sessionId: ID!, $speed: Float) {
  replayPlayback(sessionId: $sessionId, speed: $speed) {
    ... on StateFrame { tick state {
      tick isKeyframe globalMetrics zonePopulations
      agents { id position { x y } zone stance emotion influenceScore segment recentAction }
      activeEvents { id tick type name intensity affectedZone }
    } }
    ... on TransitionFrame { tick transition { tick agentId fromZone toZone reason fromPosition { x y } toPosition { x y } } }
    ... on MarkerFrame { tick event { id tick type name intensity affectedZone } }
    ... on EndFrame { finalTick sessionId }
  }
}`;

/**
 * A recorded run as a live one reports it: everyone at tick 0, then about 10% of the agents per tick, one in ten
 * of those moving zone (a transition frame), and an event every 50 ticks (a marker frame).
 */
async function seed(databaseUrl: string, agents: number, ticks: number) {
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  const database = await openDatabase(config.store);
  try {
    const services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => new Date() });
    const ids = Array.from({ length: agents }, (_, i) => `agent-${i}`);
    await services.recordSimulation(developmentViewer, {
      nodeId: NODE_ID,
      agents: ids.map((id, i) => ({ id, personaName: `Persona ${i}`, segment: `segment-${i % 4}` })),
    });
    const random = seededRandom(11);
    const zoneOf = new Map(ids.map((id) => [id, ZONES[Math.floor(random() * 3)]!]));
    for (let start = 0; start < ticks; start += 20) {
      const batch: TickInput[] = Array.from({ length: Math.min(20, ticks - start) }, (_, k) => {
        const tick = start + k;
        const reported = tick === 0 ? ids : ids.filter(() => random() < 0.1);
        return {
          tick,
          metrics: { adoption: tick / ticks, sentiment: random() },
          agents: reported.map((id) => {
            if (tick > 0 && random() < 0.1) zoneOf.set(id, ZONES[Math.floor(random() * 3)]!);
            return {
              id,
              zone: zoneOf.get(id)!,
              stance: random(),
              emotion: random(),
              influenceScore: random(),
              recentAction: random() < 0.3 ? 'shared a post' : null,
              reasoning: `Weighed what ${reported.length} others said at tick ${tick}.`,
            };
          }),
          events: tick % 50 === 0 ? [{ id: `event-${tick}`, type: 'media_event', name: `News ${tick}`, affectedZone: 'neutral', durationTicks: 10 }] : [],
        };
      });
      await services.recordTicks(developmentViewer, NODE_ID, batch);
    }
    await services.completeSimulation(developmentViewer, NODE_ID);
  } finally {
    await database.close();
  }
}

/** Opens the replay both sides play (over the same socket as the playback: graphql-ws carries mutations too). */
async function loadReplay(client: Client, maxAgents: number) {
  const loaded = await client
    .iterate<{ loadReplay: { id: string } }>({
      query: `mutation ($input: LoadReplayInput!) { loadReplay(input: $input) { id } }`,
      variables: { input: { nodeId: NODE_ID, downsampling: { maxAgents }, preloadTicks: 0 } },
    })
    .next();
  if (loaded.done || !loaded.value.data) throw new Error(`loadReplay failed: ${JSON.stringify(loaded.value?.errors)}`);
  return loaded.value.data.loadReplay.id;
}

/** Subscribes at the maximum speed and counts the frames up to and including the EndFrame. */
function playThroughGateway(client: Client, sessionId: string) {
  return new Promise<number>((resolve, reject) => {
    let frames = 0;
    let ended = false;
    client.subscribe<{ replayPlayback: { finalTick?: number } }>(
      { query: PLAYBACK, variables: { sessionId, speed: MAX_PLAYBACK_SPEED } },
      {
        next: (result) => {
          if (result.errors || !result.data) reject(new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`));
          frames += 1;
          ended = result.data?.replayPlayback.finalTick !== undefined;
        },
        // graphql-ws reports a closed socket as its CloseEvent (the gateway cuts off a subscriber that falls behind).
        error: (error) => {
          const { code, reason } = error as { code?: number; reason?: string };
          reject(error instanceof Error ? error : new Error(`Playback failed: socket closed with ${code} ${reason}`));
        },
        complete: () => (ended ? resolve(frames) : reject(new Error('Playback completed without an EndFrame'))),
      },
    );
  });
}

/**
 * `replayPlayback` frames/s at the maximum speed (unpaced), received by a graphql-ws client ÷ the same frames built
 * with better-sqlite3 and `JSON.parse` in this process. The gateway runs as a child pinned to its own core; this
 * process (client and baseline) takes the other. The run is completed, so both sides read a final timeline.
 */
export async function playback(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  if (!databaseUrl.startsWith('file:')) throw new Error('playback compares against better-sqlite3 on the same file: it needs a file: database URL');
  const agents = size === 'full' ? 2_000 : 60;
  const ticks = size === 'full' ? 150 : 30;
  const maxAgents = 1000;

  const seedStart = Date.now();
  await seed(databaseUrl, agents, ticks);
  const seedSeconds = (Date.now() - seedStart) / 1000;

  // Deployed as in production (NODE_ENV=production needs auth): graphql-js, for one, runs slower checks outside it.
  const env = { DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET };
  const gateway = spawnGateway(env, 30_000, SERVER_CPUS);
  const client = createClient({
    url: async () => (await gateway.ready).replace(/^http/, 'ws'),
    connectionParams: async () => ({ authorization: `Bearer ${await signToken({ sub: 'bench' })}` }),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  const baseline = createPlaybackBaseline(databaseUrl.slice('file:'.length));
  try {
    const sessionId = await loadReplay(client, maxAgents);
    const frames = { gateway: 0, baseline: 0 };
    // The last frame built is kept, so the baseline's frames cannot be optimised away.
    let lastBuilt: unknown;
    const result = await interleavedRatio(
      size === 'full' ? 5 : 2,
      async () => {
        const seconds = await secondsOf(async () => (frames.gateway = await playThroughGateway(client, sessionId)));
        return frames.gateway / seconds;
      },
      async () => {
        const seconds = await secondsOf(async () => (frames.baseline = baseline.play(sessionId, (frame) => (lastBuilt = frame))));
        return frames.baseline / seconds;
      },
    );
    // Equal counts of the same frame kinds, or the two sides did not do the same job.
    if (lastBuilt === undefined || frames.gateway !== frames.baseline) {
      throw new Error(`The gateway sent ${frames.gateway} frames, the baseline built ${frames.baseline}`);
    }
    return toResult('playback', result, { atLeast: 0.4 }, {
      agents,
      ticks,
      maxAgents,
      framesPerPlay: frames.gateway,
      seedSeconds,
      gatewayFramesPerSecond: result.a,
      baselineFramesPerSecond: result.b,
    });
  } finally {
    baseline.close();
    await client.dispose();
    await stopProcess(gateway);
  }
}
