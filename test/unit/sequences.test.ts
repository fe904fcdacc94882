import { describe, expect, it } from 'vitest';
import { compareSequences, formatSequence, MAX_N, nextSequence, parseSequence, START } from '../../src/domain/sequences.js';

describe('sequences', () => {
  it('parses and formats {unixMs}-{n}, with "0" as the start, and refuses anything else', () => {
    expect(parseSequence('0')).toEqual(START);
    expect(parseSequence('1704067200000-3')).toEqual({ ms: 1704067200000, n: 3 });
    expect(formatSequence({ ms: 1704067200000, n: 3 })).toBe('1704067200000-3');
    expect(parseSequence(`1-${MAX_N}`)).toEqual({ ms: 1, n: MAX_N });
    for (const bad of ['', 'abc', '1-', '-1', '1.5-0', '1e3-0', `1-${MAX_N + 1}`, '99999999999999999999999-0']) expect(parseSequence(bad), bad).toBeNull();
  });

  it('orders by millisecond, then n, as numbers', () => {
    expect(compareSequences({ ms: 999, n: 0 }, { ms: 1000, n: 0 })).toBeLessThan(0);
    expect(compareSequences({ ms: 5, n: 2 }, { ms: 5, n: 10 })).toBeLessThan(0);
    expect(compareSequences({ ms: 5, n: 2 }, { ms: 5, n: 2 })).toBe(0);
  });

  it('takes the clock’s millisecond when it moved on, else the next n of the last one', () => {
    expect(nextSequence(null, 1000)).toEqual({ ms: 1000, n: 0 });
    expect(nextSequence({ ms: 999, n: 7 }, 1000)).toEqual({ ms: 1000, n: 0 });
    // The clock stood still or stepped back: stay on the last millisecond.
    expect(nextSequence({ ms: 1000, n: 0 }, 1000)).toEqual({ ms: 1000, n: 1 });
    expect(nextSequence({ ms: 5000, n: 41 }, 1000)).toEqual({ ms: 5000, n: 42 });
  });

  it('moves to the next millisecond instead of an n past MAX_N', () => {
    expect(nextSequence({ ms: 5000, n: MAX_N - 1 }, 1000)).toEqual({ ms: 5000, n: MAX_N });
    const next = nextSequence({ ms: 5000, n: MAX_N }, 1000);
    expect(next).toEqual({ ms: 5001, n: 0 });
    expect(compareSequences({ ms: 5000, n: MAX_N }, next)).toBeLessThan(0);
    // Still a sequence the API accepts back.
    expect(parseSequence(formatSequence(next))).toEqual(next);
    expect(nextSequence({ ms: 5000, n: MAX_N }, 5000)).toEqual({ ms: 5001, n: 0 });
  });
});
