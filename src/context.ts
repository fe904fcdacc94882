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
  /** Created on first use, so requests that load nothing pay nothing. */
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
  let loaders: Loaders | undefined;
  return {
    viewer,
    services: base.services,
    limits: base.limits,
    closeTransport,
    get loaders() {
      loaders ??= createLoaders(base.db);
      return loaders;
    },
    refreshLoaders() {
      loaders = undefined;
    },
    readsMutableData: false,
  };
}
