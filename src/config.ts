import { z } from 'zod';

/** Where the data lives: an embedded SQLite file, or a PostgreSQL server shared by several gateways. */
export type StoreConfig =
  | { provider: 'sqlite'; url: string; filename: string }
  | { provider: 'postgresql'; url: string };

/** How tokens are checked: `open` is the development mode with no auth at all. */
export type AuthConfig =
  | { mode: 'open' }
  | { mode: 'secret'; secret: string }
  | { mode: 'jwks'; jwksUrl: URL };

export interface Limits {
  /** Largest `first` a connection accepts. @default 1000 */
  maxPageSize: number;
  /** Largest request body, in bytes. @default 1048576 */
  maxBodyBytes: number;
  /** Deepest selection set. @default 12 */
  maxDepth: number;
  /** Most aliases in one operation. @default 30 */
  maxAliases: number;
  /** Highest estimated cost of one operation (a literal `first` multiplies its selection). @default 50000 */
  maxCost: number;
  /** Most subscriptions one WebSocket connection may hold at once. @default 100 */
  maxSubscriptionsPerConnection: number;
  /** Most undelivered events one subscriber may hold before it is cut off. @default 1000 */
  subscriberBufferEvents: number;
  /** Most sources in one context update. @default 100 */
  maxSourcesPerUpdate: number;
}

export interface Config {
  port: number;
  host: string;
  production: boolean;
  store: StoreConfig;
  redisUrl: string | undefined;
  /** Prefix of this deployment's Redis channels, so several can share one Redis. @default "replay-gateway" */
  redisPrefix: string;
  auth: AuthConfig;
  /** @default 30 */
  retentionDays: number;
  /** How often the retention job runs. @default 60 */
  retentionSweepMinutes: number;
  /** @default 30 */
  replaySessionTtlMinutes: number;
  /** @default 10 */
  playbackTicksPerSecond: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  limits: Limits;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const env = z.object({
  NODE_ENV: z.string().optional(),
  PORT: int(4000, 0, 65535),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .default('file:./data/replay.db')
    .refine((url) => /^(file:|postgres(ql)?:\/\/)/.test(url), 'must start with file: or postgres://')
    // An in-memory database would be a different, empty one on each of the store's connections.
    .refine((url) => !/^file:(:memory:|.*mode=memory)/.test(url), 'must name a file (an in-memory SQLite database cannot be shared by the store’s connections)'),
  REDIS_URL: z
    .string()
    .refine((url) => /^rediss?:\/\//.test(url), 'must start with redis:// or rediss://')
    .optional(),
  REDIS_PREFIX: z.string().regex(/^[\w.-]{1,100}$/, 'letters, digits, _ . - only').default('replay-gateway'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)').optional(),
  JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  RETENTION_DAYS: int(30, 1),
  RETENTION_SWEEP_MINUTES: int(60, 1),
  REPLAY_SESSION_TTL_MINUTES: int(30, 1),
  PLAYBACK_TICKS_PER_SECOND: z.coerce.number().positive().max(10_000).default(10),
  MAX_PAGE_SIZE: int(1000, 1, 100_000),
  MAX_BODY_BYTES: int(1_048_576, 1024),
  MAX_QUERY_DEPTH: int(12, 2, 100),
  MAX_ALIASES: int(30, 1, 1000),
  MAX_QUERY_COST: int(50_000, 10),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(100, 1),
  SUBSCRIBER_BUFFER_EVENTS: int(1000, 1),
  MAX_SOURCES_PER_UPDATE: int(100, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Reads every setting from the environment once, reporting all problems together. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const blankAsUnset = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = env.safeParse(blankAsUnset);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);

  // The combination rules read the raw values, so they are reported together with any bad value above.
  const raw = blankAsUnset as Partial<Record<string, string>>;
  const production = raw.NODE_ENV === 'production';
  const mode = raw.JWKS_URL !== undefined ? 'jwks' : raw.JWT_SECRET !== undefined ? 'secret' : 'open';
  if (raw.JWKS_URL !== undefined && raw.JWT_SECRET !== undefined) problems.push('JWT_SECRET and JWKS_URL: set one of them, not both');
  if (mode === 'open' && production) {
    problems.push('JWT_SECRET or JWKS_URL: NODE_ENV=production refuses to start without authentication');
  }
  const host = raw.HOST ?? (mode === 'open' ? '127.0.0.1' : '0.0.0.0');
  if (mode === 'open' && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    problems.push(`HOST: open development mode (no JWT_SECRET/JWKS_URL) binds to 127.0.0.1 only, not ${host}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;

  let auth: AuthConfig = { mode: 'open' };
  if (e.JWKS_URL) auth = { mode: 'jwks', jwksUrl: new URL(e.JWKS_URL) };
  else if (e.JWT_SECRET) auth = { mode: 'secret', secret: e.JWT_SECRET };

  const store: StoreConfig = e.DATABASE_URL.startsWith('file:')
    ? { provider: 'sqlite', url: e.DATABASE_URL, filename: e.DATABASE_URL.slice('file:'.length) }
    : { provider: 'postgresql', url: e.DATABASE_URL };

  return {
    port: e.PORT,
    host,
    production,
    store,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    auth,
    retentionDays: e.RETENTION_DAYS,
    retentionSweepMinutes: e.RETENTION_SWEEP_MINUTES,
    replaySessionTtlMinutes: e.REPLAY_SESSION_TTL_MINUTES,
    playbackTicksPerSecond: e.PLAYBACK_TICKS_PER_SECOND,
    logLevel: e.LOG_LEVEL,
    limits: {
      maxPageSize: e.MAX_PAGE_SIZE,
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxDepth: e.MAX_QUERY_DEPTH,
      maxAliases: e.MAX_ALIASES,
      maxCost: e.MAX_QUERY_COST,
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      subscriberBufferEvents: e.SUBSCRIBER_BUFFER_EVENTS,
      maxSourcesPerUpdate: e.MAX_SOURCES_PER_UPDATE,
    },
  };
}
