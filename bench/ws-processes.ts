// The processes of the WebSocket benchmarks (`fanout`, `subscriber-memory`): the servers under test (the gateway
// and the raw `ws` baseline) pinned to one core, and the client swarms (bench/ws-swarm.ts) pinned to the other.
import { print } from 'graphql';
import { ContextUpdatedDocument } from '../test/generated/graphql.js';
import { untilMetric } from '../test/support/metrics.js';
import { spawnScript, stopProcess, type GatewayProcess } from '../test/support/process.js';
import { CLIENT_CPUS, SERVER_CPUS } from './cores.js';

/** A graphql-transport-ws `subscribe` payload. */
export interface SubscribePayload {
  query: string;
  variables: Record<string, unknown>;
}

/** What every benchmark subscriber follows: one session's context updates, as a dashboard's operation asks. */
export const SESSION_SUBSCRIPTION = {
  query: print(ContextUpdatedDocument),
  variables: { personId: 'fanout', sessionId: 's1' },
} satisfies SubscribePayload;

export interface BurstResult {
  deliveries: number;
  seconds: number;
  deliveriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ServerProcess {
  /** The HTTP URL the server printed (the gateway's `/graphql`, the baseline's root). */
  url: string;
  /** The same as ws://. */
  wsUrl: string;
  process: GatewayProcess;
}

export interface ServerOptions {
  /** Run under `bench/rss-probe.ts`, so `memoryAfterGc` can sample it. */
  probe?: boolean;
}

/**
 * Starts the processes of one benchmark run and stops them all together: `stop()` in the run's `finally` ends
 * every one started, even when another failed to start.
 */
export function createProcessGroup() {
  const processes: GatewayProcess[] = [];
  const track = (process: GatewayProcess) => {
    processes.push(process);
    return process;
  };
  const server = async (process: GatewayProcess): Promise<ServerProcess> => {
    const url = await track(process).ready;
    return { url, wsUrl: url.replace(/^http/, 'ws'), process };
  };
  // Probed servers get a fixed, small young generation: V8 grows it in MB steps whenever allocation is brisk
  // (connecting a thousand clients is), which moved the sampled memory by more than the clients themselves.
  const probed = { NODE_OPTIONS: '--expose-gc --max-semi-space-size=1' };
  const script = (path: string, env: Record<string, string>, readyPattern: RegExp | undefined, { probe = false }: ServerOptions) =>
    probe
      ? spawnScript('bench/rss-probe.ts', { ...env, ...probed, RSS_PROBE_SCRIPT: path }, { readyPattern, cpus: SERVER_CPUS })
      : spawnScript(path, env, { readyPattern, cpus: SERVER_CPUS });

  return {
    /** The real gateway (`src/main.ts`) in open development mode. */
    gateway(databaseUrl: string, options: ServerOptions = {}) {
      // No ready pattern: spawnScript's default is the gateway's own ready line.
      return server(script('src/main.ts', { DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent' }, undefined, options));
    },
    /** The raw `ws` server (`bench/baselines/ws-broadcast.ts`), broadcasting each `POST /publish` body. */
    baseline(options: ServerOptions = {}) {
      return server(script('bench/baselines/ws-broadcast.ts', {}, /ws-broadcast ready at (\S+)/, options));
    },
    /** A client swarm, driven over its control API. */
    async swarm() {
      const control = await track(spawnScript('bench/ws-swarm.ts', {}, { readyPattern: /ws-swarm ready at (\S+)/, cpus: CLIENT_CPUS })).ready;
      const command = async <T>(path: string, body: unknown = {}): Promise<T> => {
        const response = await fetch(new URL(path, control), { method: 'POST', body: JSON.stringify(body) });
        const text = await response.text();
        if (!response.ok) throw new Error(`swarm ${path} failed: ${text}`);
        return JSON.parse(text) as T;
      };
      return {
        connect: (url: string, count: number, subscribe?: SubscribePayload) => command<{ clients: number }>('/connect', { url, count, subscribe }),
        /** Starts recording receipts of the next `events` messages. */
        arm: (events: number) => command<{ clients: number }>('/arm', { events }),
        /** Waits for every receipt; `publishedAt` are the events' publish times (`monotonicMs`). */
        collect: (publishedAt: readonly number[]) => command<BurstResult>('/collect', { publishedAt }),
      };
    },
    stop: () => Promise.all(processes.map((process) => stopProcess(process))),
  };
}

/** Resolves once the gateway's pub/sub has exactly `count` live subscribers (each really listening). */
export const untilSubscribers = (gateway: ServerProcess, count: number) =>
  untilMetric(gateway.url, 'replay_gateway_pubsub_subscribers', (value) => value === count, 60_000);

/** A server's memory after a full GC, as `bench/rss-probe.ts` reports it (bytes). */
export interface MemorySample {
  rss: number;
  rssAnon: number;
  heapUsed: number;
  heapPhysical: number;
}

/** Collects all garbage in a server started with `probe` and samples its memory. */
export function memoryAfterGc(server: ServerProcess) {
  const stdout = server.process.child.stdout!;
  return new Promise<MemorySample>((resolve) => {
    const onData = (chunk: string) => {
      const line = /^memory (.+)$/m.exec(chunk);
      if (!line) return;
      stdout.off('data', onData);
      resolve(JSON.parse(line[1]!) as MemorySample);
    };
    stdout.on('data', onData);
    server.process.child.kill('SIGUSR2');
  });
}

export type Swarm = Awaited<ReturnType<ReturnType<typeof createProcessGroup>['swarm']>>;
