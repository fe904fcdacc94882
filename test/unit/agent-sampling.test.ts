import { describe, expect, it } from 'vitest';
import { sampleAgents, type SamplingCandidate, type SamplingStrategy } from '../../src/domain/agent-sampling.js';
import { seededRandom } from '../support/random.js';

const STRATEGIES: SamplingStrategy[] = ['REPRESENTATIVE', 'RANDOM', 'TOP_INFLUENCE'];

const candidate = (id: string, segment: string | null, zone: string, influenceScore = 0): SamplingCandidate => ({ id, segment, zone, influenceScore });
const stratum = (c: SamplingCandidate) => `${c.segment ?? '∅'}/${c.zone}`;
const countBy = <T>(list: readonly T[], key: (item: T) => string) => {
  const counts = new Map<string, number>();
  for (const item of list) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};
/** A sample is a subsequence of the candidates: picked ones in the order they were given, no repeats. */
function expectSubsequence(sample: readonly string[], candidates: readonly SamplingCandidate[]) {
  const order = new Map(candidates.map((c, i) => [c.id, i]));
  for (const id of sample) expect(order.has(id), `${id} is a candidate`).toBe(true);
  const positions = sample.map((id) => order.get(id)!);
  expect(positions, 'in the candidates order').toEqual([...positions].sort((a, b) => a - b));
  expect(new Set(sample).size).toBe(sample.length);
}
function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
/** A random population over a few segments (null among them) and zones, influence scores with ties. */
function population(random: () => number, size: number): SamplingCandidate[] {
  const segments = ['urban', 'rural', 'suburban', null];
  const zones = ['supporters', 'neutral', 'skeptics'];
  // Skewed: some strata large, some tiny.
  const weightedSegment = () => segments[Math.min(3, Math.floor(random() ** 2 * 4))]!;
  return Array.from({ length: size }, (_, i) =>
    candidate(`agent-${i}-${Math.floor(random() * 1e6).toString(36)}`, weightedSegment(), zones[Math.floor(random() * 3)]!, Math.floor(random() * 20) / 2),
  );
}

describe('sampleAgents', () => {
  const small = [candidate('c', 'x', 'neutral', 3), candidate('a', null, 'supporters', 9), candidate('b', 'x', 'neutral', 1)];

  it('returns every candidate, in order, when maxAgents covers them (any strategy)', () => {
    for (const strategy of STRATEGIES) {
      for (const max of [3, 4, 1000]) expect(sampleAgents(small, max, strategy, 'seed'), `${strategy} ${max}`).toEqual(['c', 'a', 'b']);
      expect(sampleAgents([], 5, strategy, 'seed')).toEqual([]);
    }
  });

  it('returns exactly maxAgents distinct candidates, in the order given, for every strategy', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 40; round++) {
      const candidates = population(random, 5 + Math.floor(random() * 80));
      const max = 1 + Math.floor(random() * (candidates.length - 1));
      for (const strategy of STRATEGIES) {
        const sample = sampleAgents(candidates, max, strategy, `seed-${round}`);
        expect(sample, `${strategy} round ${round}`).toHaveLength(max);
        expectSubsequence(sample, candidates);
      }
    }
  });

  describe('TOP_INFLUENCE', () => {
    it('takes the highest influence scores, ties broken by id, and keeps the given order', () => {
      const candidates = [
        candidate('m', null, 'z', 5),
        candidate('k', null, 'z', 9.5),
        candidate('a', null, 'z', 5),
        candidate('q', null, 'z', -2),
        candidate('z', null, 'z', 7),
        candidate('b', null, 'z', 5),
      ];
      expect(sampleAgents(candidates, 1, 'TOP_INFLUENCE', 's')).toEqual(['k']);
      expect(sampleAgents(candidates, 2, 'TOP_INFLUENCE', 's')).toEqual(['k', 'z']);
      // Three tie at 5: 'a' then 'b' before 'm'.
      expect(sampleAgents(candidates, 3, 'TOP_INFLUENCE', 's')).toEqual(['k', 'a', 'z']);
      expect(sampleAgents(candidates, 4, 'TOP_INFLUENCE', 's')).toEqual(['k', 'a', 'z', 'b']);
      expect(sampleAgents(candidates, 5, 'TOP_INFLUENCE', 's')).toEqual(['m', 'k', 'a', 'z', 'b']);
    });

    it('does not depend on the seed or on the order of the candidates (as a set)', () => {
      const random = seededRandom(11);
      const candidates = population(random, 60);
      const expected = [...candidates]
        .sort((a, b) => b.influenceScore - a.influenceScore || (a.id < b.id ? -1 : 1))
        .slice(0, 13)
        .map((c) => c.id)
        .sort();
      for (const seed of ['a', 'b']) expect([...sampleAgents(candidates, 13, 'TOP_INFLUENCE', seed)].sort()).toEqual(expected);
      expect([...sampleAgents(shuffled(candidates, random), 13, 'TOP_INFLUENCE', 'a')].sort()).toEqual(expected);
    });
  });

  describe('RANDOM', () => {
    const candidates = Array.from({ length: 40 }, (_, i) => candidate(`agent-${i}`, i % 2 ? 'x' : 'y', 'neutral', i));

    it('is stable: the same candidates and seed always give the same sample, whatever their order', () => {
      const first = sampleAgents(candidates, 10, 'RANDOM', 'node-1');
      expect(sampleAgents(candidates, 10, 'RANDOM', 'node-1')).toEqual(first);
      const random = seededRandom(3);
      for (let i = 0; i < 5; i++) expect([...sampleAgents(shuffled(candidates, random), 10, 'RANDOM', 'node-1')].sort()).toEqual([...first].sort());
    });

    it('is not the first, the last or the most influential agents, and changes with the seed', () => {
      const sample = sampleAgents(candidates, 10, 'RANDOM', 'node-1');
      const ids = candidates.map((c) => c.id);
      expect(sample).not.toEqual(ids.slice(0, 10));
      expect(sample).not.toEqual(ids.slice(-10));
      expect(sample).not.toEqual(sampleAgents(candidates, 10, 'TOP_INFLUENCE', 'node-1'));
      const seeds = ['node-2', 'node-3', 'node-4'].map((seed) => sampleAgents(candidates, 10, 'RANDOM', seed).join());
      expect(new Set([sample.join(), ...seeds]).size).toBe(4);
    });

    it('gives every candidate about the same chance across seeds', () => {
      const picks = new Map(candidates.map((c) => [c.id, 0]));
      const SEEDS = 2000;
      for (let s = 0; s < SEEDS; s++) for (const id of sampleAgents(candidates, 10, 'RANDOM', `seed-${s}`)) picks.set(id, picks.get(id)! + 1);
      // Expected 500 each (10 of 40, 2000 draws); a fair draw stays well within ±25%.
      for (const [id, n] of picks) expect(n, id).toBeGreaterThan(375);
      for (const [id, n] of picks) expect(n, id).toBeLessThan(625);
    });

    it('is a prefix-consistent draw: a larger sample contains the smaller one', () => {
      const five = sampleAgents(candidates, 5, 'RANDOM', 'grow');
      const twelve = sampleAgents(candidates, 12, 'RANDOM', 'grow');
      for (const id of five) expect(twelve).toContain(id);
    });
  });

  describe('REPRESENTATIVE', () => {
    /** The largest-remainder quotas in integer arithmetic, and the remainders that decided them. */
    function quotas(candidates: readonly SamplingCandidate[], max: number) {
      const n = candidates.length;
      return new Map([...countBy(candidates, stratum)].map(([key, size]) => [key, { size, floor: Math.floor((size * max) / n), remainder: (size * max) % n }]));
    }

    it('keeps the segment × zone mix: 4.2, 1.8, 3, 2 and 1 of 12 become 4, 2, 3, 2, 1', () => {
      const spec: [string | null, string, number][] = [
        ['urban', 'supporters', 21],
        ['urban', 'neutral', 9],
        ['rural', 'skeptics', 15],
        ['rural', 'supporters', 10],
        [null, 'neutral', 5],
      ];
      const random = seededRandom(99);
      const candidates = shuffled(
        spec.flatMap(([segment, zone, count]) => Array.from({ length: count }, (_, i) => candidate(`${segment}-${zone}-${i}`, segment, zone))),
        random,
      );
      const sample = sampleAgents(candidates, 12, 'REPRESENTATIVE', 'mix');
      const byId = new Map(candidates.map((c) => [c.id, c]));
      expect(Object.fromEntries(countBy(sample, (id) => stratum(byId.get(id)!)))).toEqual({
        'urban/supporters': 4,
        'urban/neutral': 2,
        'rural/skeptics': 3,
        'rural/supporters': 2,
        '∅/neutral': 1,
      });
      expectSubsequence(sample, candidates);
      // 7 of 60: 2.45, 1.05, 1.75, 1.17, 0.58 → floors 2, 1, 1, 1, 0 and the two largest remainders (0.75, 0.58) round up.
      const seven = sampleAgents(candidates, 7, 'REPRESENTATIVE', 'mix');
      expect(Object.fromEntries(countBy(seven, (id) => stratum(byId.get(id)!)))).toEqual({
        'urban/supporters': 2,
        'urban/neutral': 1,
        'rural/skeptics': 2,
        'rural/supporters': 1,
        '∅/neutral': 1,
      });
    });

    it('keeps agents without a segment (null) apart from agents whose segment is the empty string', () => {
      // Recording keeps '' as given (only a missing segment becomes null): two different segments.
      const candidates = [
        ...Array.from({ length: 6 }, (_, i) => candidate(`n${i}`, null, 'neutral')),
        ...Array.from({ length: 6 }, (_, i) => candidate(`e${i}`, '', 'neutral')),
        ...Array.from({ length: 12 }, (_, i) => candidate(`u${i}`, 'u', 'neutral')),
      ];
      for (const seed of ['s', 'a', 'b', 'c', 'd', 'e', 'f', 'g']) {
        const sample = sampleAgents(candidates, 4, 'REPRESENTATIVE', seed);
        expect.soft(Object.fromEntries(countBy(sample, (id) => id[0]!)), `seed ${seed}: ${sample.join()}`).toEqual({ n: 1, e: 1, u: 2 });
      }
    });

    it('gives every stratum the floor or ceiling of its exact share, ceilings to the largest remainders (random populations)', () => {
      const random = seededRandom(2026);
      for (let round = 0; round < 150; round++) {
        const candidates = population(random, 2 + Math.floor(random() * 150));
        const max = 1 + Math.floor(random() * (candidates.length - 1));
        const sample = sampleAgents(candidates, max, 'REPRESENTATIVE', `r${round}`);
        const byId = new Map(candidates.map((c) => [c.id, c]));
        const got = countBy(sample, (id) => stratum(byId.get(id)!));
        const expected = quotas(candidates, max);
        expect(sample, `round ${round}`).toHaveLength(max);
        let lowestUp = Infinity;
        let highestDown = -Infinity;
        for (const [key, q] of expected) {
          const n = got.get(key) ?? 0;
          expect([q.floor, q.floor + 1], `round ${round} ${key}: ${q.size}×${max}/${candidates.length}`).toContain(n);
          if (q.remainder === 0) expect(n, `round ${round} ${key} exact`).toBe(q.floor);
          if (n === q.floor + 1) lowestUp = Math.min(lowestUp, q.remainder);
          else highestDown = Math.max(highestDown, q.remainder);
        }
        // Largest remainder: no stratum left at its floor had a larger remainder than one rounded up.
        expect(lowestUp, `round ${round}`).toBeGreaterThanOrEqual(highestDown);
        expectSubsequence(sample, candidates);
      }
    });

    it('is stable, and does not depend on the order of the candidates (as a set)', () => {
      const random = seededRandom(5);
      const candidates = population(random, 90);
      const first = sampleAgents(candidates, 25, 'REPRESENTATIVE', 'node');
      expect(sampleAgents(candidates, 25, 'REPRESENTATIVE', 'node')).toEqual(first);
      for (let i = 0; i < 5; i++) expect([...sampleAgents(shuffled(candidates, random), 25, 'REPRESENTATIVE', 'node')].sort()).toEqual([...first].sort());
    });

    it('picks within a stratum by seed, not by position: not always the first members', () => {
      const candidates = Array.from({ length: 50 }, (_, i) => candidate(`m${String(i).padStart(2, '0')}`, 'one', 'neutral'));
      const picks = new Set<string>();
      for (let s = 0; s < 20; s++) picks.add(sampleAgents(candidates, 5, 'REPRESENTATIVE', `seed-${s}`).join());
      expect(picks.size).toBeGreaterThan(15);
      expect(picks.has(candidates.slice(0, 5).map((c) => c.id).join())).toBe(false);
    });
  });
});
