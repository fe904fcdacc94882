import { describe, expect, it } from 'vitest';
import { runBenchmarks } from '../../bench/run.js';

// The benchmark suite on tiny data, so it cannot rot: each benchmark runs end to end and reports a well-formed
// result. (Figures from this mode mean nothing; `npm run bench` is the real run.)
describe('bench smoke mode', () => {
  it('produces a well-formed result for every benchmark', async () => {
    const results = await runBenchmarks([], 'smoke', null);
    expect(results.length).toBeGreaterThan(0);
    for (const result of results) {
      expect(result).toMatchObject({ name: expect.any(String), target: expect.any(String), pass: expect.any(Boolean), size: 'smoke' });
      expect(Number.isFinite(result.ratio) && result.ratio > 0, `${result.name} ratio ${result.ratio}`).toBe(true);
      expect(result.min).toBeLessThanOrEqual(result.ratio);
      expect(result.max).toBeGreaterThanOrEqual(result.ratio);
      expect(Object.values(result.figures).every(Number.isFinite)).toBe(true);
    }
  }, 120_000);
});
