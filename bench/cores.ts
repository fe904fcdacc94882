import { availableParallelism } from 'node:os';

// Where each side of a benchmark runs: servers (the gateway, baseline servers) on core 0; load generators, client
// swarms and in-process baselines on core 1, so no server shares its core with what measures it. On a one-core
// machine nothing is pinned.
const twoCores = availableParallelism() > 1;
export const SERVER_CPUS = twoCores ? '0' : undefined;
export const CLIENT_CPUS = twoCores ? '1' : undefined;
