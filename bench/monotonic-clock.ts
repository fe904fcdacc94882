/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime), which every process on the machine shares: times taken in the
 * publisher and in the client swarm can be subtracted. (`performance.now()` counts from each process's start.)
 */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;
