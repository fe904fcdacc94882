import { describe, expect, it } from 'vitest';
import { applyFusion, FUSION_ALGORITHM, fuseSources, type ContextSource } from '../../src/domain/fusion.js';

const at = (iso: string) => new Date(iso);
const source = (name: string, data: ContextSource['data'], confidence = 1, observedAt: string | null = null): ContextSource => ({
  source: name,
  data,
  confidence,
  observedAt: observedAt ? at(observedAt) : null,
});
const received = at('2026-01-01T12:00:00.000Z');

describe('fuseSources', () => {
  it('takes each key from the source with the highest confidence', () => {
    const fusion = fuseSources(
      [source('gps', { location: 'home', speed: 3 }, 0.6), source('calendar', { location: 'office' }, 0.9)],
      received,
      received,
    );
    expect(fusion.state).toEqual({ location: 'office', speed: 3 });
    expect(fusion.provenance).toEqual({ location: 'calendar', speed: 'gps' });
    expect(fusion.algorithm).toBe(FUSION_ALGORITHM);
    expect(fusion.fusedAt).toBe(received.toISOString());
  });

  it('breaks confidence ties by the later observedAt, whatever the order', () => {
    const early = source('a', { mood: 'calm' }, 0.5, '2026-01-01T10:00:00.000Z');
    const late = source('b', { mood: 'busy' }, 0.5, '2026-01-01T11:00:00.000Z');
    expect(fuseSources([late, early], received, received).state).toEqual({ mood: 'busy' });
    expect(fuseSources([early, late], received, received).state).toEqual({ mood: 'busy' });
  });

  it('counts a source without observedAt as observed at the update time', () => {
    const older = source('a', { k: 'older' }, 0.5, '2026-01-01T11:00:00.000Z');
    const undated = source('b', { k: 'undated' }, 0.5);
    expect(fuseSources([undated, older], received, received).provenance).toEqual({ k: 'b' });
  });

  it('breaks full ties by the later position in sources', () => {
    const fusion = fuseSources([source('first', { k: 1 }), source('second', { k: 2 })], received, received);
    expect(fusion).toMatchObject({ state: { k: 2 }, provenance: { k: 'second' } });
  });

  it('is deterministic: same sources, same result', () => {
    const sources = [source('x', { b: 1, a: [1, 2] }, 0.3), source('y', { a: { deep: true } }, 0.3)];
    expect(fuseSources(sources, received, received)).toEqual(fuseSources(sources, received, received));
  });
});

describe('applyFusion', () => {
  it('lays the fused keys over the previous state and keeps the rest', () => {
    expect(applyFusion({ a: 1, b: 2 }, { state: { b: 3, c: 4 } })).toEqual({ a: 1, b: 3, c: 4 });
  });
});
