import { createHash } from 'node:crypto';

export type SamplingStrategy = 'REPRESENTATIVE' | 'RANDOM' | 'TOP_INFLUENCE';

export interface SamplingCandidate {
  id: string;
  segment: string | null;
  zone: string;
  influenceScore: number;
}

/** A stable pseudo-random rank for an id under a seed: the same inputs always order the same way. */
const rank = (seed: string, id: string) => createHash('sha256').update(`${seed}\u0000${id}`).digest('hex');

/**
 * Which agents a replay shows (at most `maxAgents`, all of them when there are fewer), returned in the order
 * given. REPRESENTATIVE keeps the mix of segment × zone (largest-remainder quotas, a seeded pick within each);
 * RANDOM is a seeded draw; TOP_INFLUENCE takes the most influential (ties by id). The same inputs always give
 * the same sample, so a session shows the same agents at every tick.
 */
export function sampleAgents(candidates: readonly SamplingCandidate[], maxAgents: number, strategy: SamplingStrategy, seed: string): string[] {
  if (candidates.length <= maxAgents) return candidates.map((c) => c.id);
  let chosen: SamplingCandidate[];
  if (strategy === 'TOP_INFLUENCE') {
    chosen = [...candidates].sort((a, b) => b.influenceScore - a.influenceScore || (a.id < b.id ? -1 : 1)).slice(0, maxAgents);
  } else if (strategy === 'RANDOM') {
    chosen = [...candidates].sort((a, b) => (rank(seed, a.id) < rank(seed, b.id) ? -1 : 1)).slice(0, maxAgents);
  } else {
    const strata = new Map<string, SamplingCandidate[]>();
    for (const c of candidates) {
      const key = JSON.stringify([c.segment, c.zone]);
      strata.set(key, [...(strata.get(key) ?? []), c]);
    }
    const quotas = [...strata.entries()].map(([key, members]) => {
      const exact = (members.length * maxAgents) / candidates.length;
      return { key, members, quota: Math.floor(exact), remainder: exact - Math.floor(exact) };
    });
    let left = maxAgents - quotas.reduce((sum, q) => sum + q.quota, 0);
    for (const q of [...quotas].sort((a, b) => b.remainder - a.remainder || (a.key < b.key ? -1 : 1))) {
      if (left === 0) break;
      q.quota += 1;
      left -= 1;
    }
    chosen = quotas.flatMap((q) => [...q.members].sort((a, b) => (rank(seed, a.id) < rank(seed, b.id) ? -1 : 1)).slice(0, q.quota));
  }
  const picked = new Set(chosen.map((c) => c.id));
  return candidates.filter((c) => picked.has(c.id)).map((c) => c.id);
}
