import { describe, expect, it } from 'vitest';
import { findLayoutProfile, LAYOUT_PROFILES } from '../../src/domain/layouts.js';

describe('layout profiles', () => {
  it('tile their canvas exactly: every zone inside it, none overlapping, no gap', () => {
    for (const profile of LAYOUT_PROFILES) {
      const { width, height } = profile.canvasSize;
      let area = 0;
      profile.zones.forEach((zone, i) => {
        const b = zone.bounds;
        expect(b.x >= 0 && b.y >= 0 && b.x + b.width <= width && b.y + b.height <= height, `${profile.id}/${zone.id}`).toBe(true);
        area += b.width * b.height;
        for (const other of profile.zones.slice(i + 1)) {
          const o = other.bounds;
          const overlaps = b.x < o.x + o.width && o.x < b.x + b.width && b.y < o.y + o.height && o.y < b.y + b.height;
          expect(overlaps, `${zone.id} overlaps ${other.id}`).toBe(false);
        }
      });
      expect(area).toBe(width * height);
    }
  });

  it('are found by id', () => {
    expect(findLayoutProfile('default')?.zones.map((z) => z.id)).toEqual(['supporters', 'neutral', 'skeptics']);
    expect(findLayoutProfile('quadrant')?.canvasSize).toEqual({ width: 800, height: 800 });
    expect(findLayoutProfile('nope')).toBeNull();
  });
});
