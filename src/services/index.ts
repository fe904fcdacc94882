import { createContextUpdates } from './context-updates.js';
import type { ServiceDeps } from './deps.js';
import { createProjectFeeds } from './project-feeds.js';
import { createProjectReads } from './project-reads.js';
import { createProjectWrites } from './project-writes.js';
import { createReplaySessions } from './replay-sessions.js';
import { createSessionPlayback } from './session-playback.js';
import { createSimulationRecordings } from './simulation-recordings.js';
import { createSessions } from './sessions.js';
import { createTraceReplays } from './trace-replays.js';
import { createTraces } from './traces.js';

/** Everything the product does, transport-free, built once per server from the same dependencies. */
export function createServices(deps: ServiceDeps) {
  return {
    ...createContextUpdates(deps),
    ...createTraces(deps),
    ...createSessions(deps),
    ...createTraceReplays(deps),
    ...createSessionPlayback(deps),
    ...createProjectWrites(deps),
    ...createProjectReads(deps),
    ...createProjectFeeds(deps),
    ...createSimulationRecordings(deps),
    ...createReplaySessions(deps),
    subscribe: deps.pubsub.subscribe.bind(deps.pubsub),
  };
}

export type Services = ReturnType<typeof createServices>;
export type { ServiceDeps };
