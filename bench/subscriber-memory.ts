import { interleavedRatio, median, toResult } from './measure.js';
import type { BenchmarkResult, BenchmarkSize } from './types.js';
import {
  createProcessGroup,
  memoryAfterGc,
  SESSION_SUBSCRIPTION,
  untilSubscribers,
  type MemorySample,
  type ServerProcess,
} from './ws-processes.js';

/**
 * Resident memory the process holds for its data: anonymous resident memory (RssAnon: heap, malloc, socket
 * state; not the mapped code) less the V8 heap's free space. That free space belongs to the GC's history, not to
 * what is stored: after start-up the gateway's heap has tens of MB of it, which new objects fill without the RSS
 * moving, while the baseline's small heap grows and touches fresh pages for the same objects; and V8 hands free
 * pages back to the system whenever it likes. Plain VmRSS growth and the live V8 heap's growth are reported
 * beside it.
 */
const residentLive = (sample: MemorySample) => sample.rssAnon - sample.heapPhysical + sample.heapUsed;

/**
 * Clients added per round, the ratio's unit. In smoke size too: a smaller batch's growth drowns in the noise of
 * pages and heap chunks (even below zero).
 */
const BATCH = 1_000;

/**
 * Resident memory a server needs for 1,000 more idle `contextUpdated` subscriptions over graphql-ws (each on its
 * own connection, as one dashboard each) ÷ for 1,000 more bare `ws` connections to the raw baseline server. Both
 * servers run under the RSS probe on core 0 and stay up for the whole run; every round adds a batch of clients
 * from the swarms on core 1 and samples the server's memory after a full GC before and after (the warm-up
 * round, discarded, takes the one-time costs: code, caches, the first listener). Connections are only ever
 * added, so no round can reuse memory an earlier one freed.
 */
export async function subscriberMemory(size: BenchmarkSize, databaseUrl: string): Promise<BenchmarkResult> {
  const processes = createProcessGroup();
  try {
    const [gateway, baseline, gatewaySwarm, baselineSwarm] = await Promise.all([
      processes.gateway(databaseUrl, { probe: true }),
      processes.baseline({ probe: true }),
      processes.swarm(),
      processes.swarm(),
    ]);
    const vmRssGrowth = { gateway: [] as number[], baseline: [] as number[] };
    const heapGrowth = { gateway: [] as number[], baseline: [] as number[] };
    let gatewaySubscribers = 0;
    /** Growth of `server`'s resident memory over `add` (one batch of clients). */
    const growth = async (side: 'gateway' | 'baseline', server: ServerProcess, add: () => Promise<unknown>) => {
      const before = await memoryAfterGc(server);
      await add();
      const after = await memoryAfterGc(server);
      vmRssGrowth[side].push(after.rss - before.rss);
      heapGrowth[side].push(after.heapUsed - before.heapUsed);
      return residentLive(after) - residentLive(before);
    };
    const result = await interleavedRatio(
      size === 'full' ? 7 : 1,
      () =>
        growth('gateway', gateway, async () => {
          await gatewaySwarm.connect(gateway.wsUrl, BATCH, SESSION_SUBSCRIPTION);
          gatewaySubscribers += BATCH;
          await untilSubscribers(gateway, gatewaySubscribers);
        }),
      () => growth('baseline', baseline, () => baselineSwarm.connect(baseline.wsUrl, BATCH)),
    );
    return toResult('subscriber-memory', result, { atMost: 1.5 }, {
      clientsPerRound: BATCH,
      gatewayBytesPer1000Subscriptions: result.a,
      baselineBytesPer1000Connections: result.b,
      // Without the warm-up round, like the ratio.
      gatewayVmRssBytesPer1000: median(vmRssGrowth.gateway.slice(1)),
      baselineVmRssBytesPer1000: median(vmRssGrowth.baseline.slice(1)),
      gatewayHeapBytesPer1000: median(heapGrowth.gateway.slice(1)),
      baselineHeapBytesPer1000: median(heapGrowth.baseline.slice(1)),
    });
  } finally {
    await processes.stop();
  }
}
