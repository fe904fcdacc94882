import type { Viewer } from './auth/viewer.js';
import type { Limits } from './config.js';
import type { Services } from './services/index.js';
import type { Db } from './store/database.js';
import { createLoaders, type Loaders } from './store/loaders.js';

/** Per-request context: built fresh for every HTTP request and every WebSocket operation. */
export interface GraphQLContext {
  viewer: Viewer | null;
  services: Services;
  limits: Limits;
  /** Created on first use, so requests that load nothing pay nothing; refreshLoaders starts a new set. */
  readonly loaders: Loaders;
  /** Subscriptions call this before resolving each event, so no event sees another's cached rows. */
  refreshLoaders(): void;
  /** Whether this operation read something that can still change (HTTP caching headers are only for immutable reads). */
  readsMutableData: boolean;
  /** Set on WebSocket operations: closes the connection (e.g. a subscriber that fell too far behind). */
  closeTransport?: (code: number, reason: string) => void;
}

export function createContext(
  base: { db: Db; services: Services; limits: Limits },
  viewer: Viewer | null,
  closeTransport?: GraphQLContext['closeTransport'],
): GraphQLContext {
  let current: Loaders | undefined;
  // A stable object reading the current set: Yoga merges contexts by spreading them, which would freeze a getter
  // on the context itself into whatever set it returned then (and refreshLoaders would change nothing).
  const loaders = new Proxy({} as Loaders, { get: (_, name) => (current ??= createLoaders(base.db))[name as keyof Loaders] });
  return {
    viewer,
    services: base.services,
    limits: base.limits,
    closeTransport,
    loaders,
    refreshLoaders() {
      current = undefined;
    },
    readsMutableData: false,
  };
}
