import type { Config } from '../config.js';
import type { PubSub } from '../realtime/pubsub.js';
import type { Database } from '../store/database.js';

/** What every service is built from; one set per server, nothing request-scoped. */
export interface ServiceDeps {
  database: Database;
  pubsub: PubSub;
  config: Config;
  now: () => Date;
}
