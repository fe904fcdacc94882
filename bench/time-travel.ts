import { createLogger } from 'graphql-yoga';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { developmentViewer } from '../src/auth/viewer.js';
import { createLocalPubSub } from '../src/realtime/pubsub.js';
import { createServices } from '../src/services/index.js';
import { openDatabase } from '../src/store/database.js';
import { graphqlPoster } from './graphql-post.js';
import { interleavedRatio, perCallMs, toResult } from './measure.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';

const KEYS = 200;
const STATE_AT = `query ($id: ID!, $sequence: String!) { project(id: $id) { stateAt(sequence: $sequence) { dataKey sequence } } }`;

/**
 * `stateAt` near the end of a long stream ÷ near its start. Snapshots every 500 data events bound the work to
 * one snapshot plus at most 500 events wherever the moment lies, so the ratio should stay near 1.
 */
export async function timeTravel(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const events = size === 'full' ? 1_000_000 : 5_000;
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent' });

  // Seed through the product's own import path (it writes the snapshots), not behind its back.
  const database = await openDatabase(config.store);
  const services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => new Date() });
  const base = Date.UTC(2026, 0, 1);
  const seedStart = Date.now();
  for (let offset = 0; offset < events; offset += 1000) {
    const batch = Array.from({ length: Math.min(1000, events - offset) }, (_, i) => {
      const index = offset + i;
      const dataKey = `key-${index % KEYS}`;
      return { sequence: `${base + index}-0`, eventType: 'data_published', data: { dataKey, data: { index }, description: null } };
    });
    await services.importEvents(developmentViewer, 'bench', batch);
  }
  const seedSeconds = (Date.now() - seedStart) / 1000;
  await database.close();

  const server = await createServer(config, createLogger('silent'));
  const post = graphqlPoster(server.url);
  const ask = (sequence: string) => post(STATE_AT, { id: 'bench', sequence });
  // Mid-interval points on both sides, so each answer replays about the same number of events after its snapshot.
  const nearStart = `${base + 750}-0`;
  const nearEnd = `${base + events - 250}-0`;
  const calls = size === 'full' ? 40 : 5;
  const result = await interleavedRatio(
    size === 'full' ? 7 : 2,
    () => perCallMs(calls, () => ask(nearEnd)),
    () => perCallMs(calls, () => ask(nearStart)),
  );
  await server.close();
  return toResult('time-travel', result, { atMost: 1.5 }, {
    events,
    keys: KEYS,
    seedSeconds,
    msPerStateAtNearEnd: result.a,
    msPerStateAtNearStart: result.b,
  });
}
