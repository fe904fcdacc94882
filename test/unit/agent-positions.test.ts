import { describe, expect, it } from 'vitest';
import { agentPosition } from '../../src/domain/agent-positions.js';
import { LAYOUT_PROFILES, type Rect } from '../../src/domain/layouts.js';

const ZONES: [string, Rect][] = [
  ...LAYOUT_PROFILES.flatMap((profile) => profile.zones.map((zone): [string, Rect] => [`${profile.id}/${zone.id}`, zone.bounds])),
  ['odd', { x: -37.5, y: 1234.25, width: 13.75, height: 901 }],
  ['thin', { x: 10, y: 10, width: 1000, height: 3 }],
];
const IDS = Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? `agent-${i}` : i % 3 === 1 ? `${i}` : `ü-${i}-persona with spaces`));
const TICKS = [0, 1, 2, 7, 99, 1000, 123_456];
/** The margin the contract-level placement keeps from a zone's edges, as a share of its size (at least this). */
const MARGIN = 0.05;
const EPSILON = 1e-9;

describe('agentPosition', () => {
  it('places every agent inside its zone, away from the edges, for many ids, ticks and zones', () => {
    for (const [name, zone] of ZONES) {
      for (const id of IDS) {
        for (const tick of TICKS) {
          const { x, y } = agentPosition(id, tick, zone);
          const inside =
            x >= zone.x + MARGIN * zone.width - EPSILON &&
            x <= zone.x + (1 - MARGIN) * zone.width + EPSILON &&
            y >= zone.y + MARGIN * zone.height - EPSILON &&
            y <= zone.y + (1 - MARGIN) * zone.height + EPSILON;
          if (!inside) expect.fail(`${id} at tick ${tick} in ${name}: ${x},${y}`);
          expect(Number.isFinite(x) && Number.isFinite(y)).toBe(true);
        }
      }
    }
  });

  it('is deterministic: the same agent, tick and zone always give the same point', () => {
    const [, zone] = ZONES[0]!;
    for (const id of IDS.slice(0, 50)) {
      for (const tick of TICKS) expect(agentPosition(id, tick, zone)).toEqual(agentPosition(id, tick, { ...zone }));
    }
  });

  it('moves an agent only slightly from one tick to the next, but does move it', () => {
    const zone = { x: 0, y: 0, width: 1000, height: 600 };
    let moved = 0;
    let maxDx = 0;
    let maxDy = 0;
    for (const id of IDS) {
      for (let tick = 0; tick < 30; tick++) {
        const a = agentPosition(id, tick, zone);
        const b = agentPosition(id, tick + 1, zone);
        if (a.x !== b.x || a.y !== b.y) moved++;
        maxDx = Math.max(maxDx, Math.abs(a.x - b.x));
        maxDy = Math.max(maxDy, Math.abs(a.y - b.y));
      }
    }
    expect(moved / (IDS.length * 30)).toBeGreaterThan(0.9);
    // Slightly: at most 5% of the zone per tick, on each axis.
    expect(maxDx).toBeLessThanOrEqual(0.05 * zone.width);
    expect(maxDy).toBeLessThanOrEqual(0.05 * zone.height);
    // And it stays near its own spot over a long stretch too.
    for (const id of IDS.slice(0, 40)) {
      const xs = Array.from({ length: 200 }, (_, tick) => agentPosition(id, tick, zone).x);
      expect(Math.max(...xs) - Math.min(...xs), id).toBeLessThanOrEqual(0.05 * zone.width);
    }
  });

  it('spreads agents over the whole zone (each of its quarters gets its share)', () => {
    const zone = { x: 300, y: 0, width: 400, height: 600 };
    const quarters = [0, 0, 0, 0];
    const ids = Array.from({ length: 2000 }, (_, i) => `spread-${i}`);
    for (const id of ids) {
      const { x, y } = agentPosition(id, 5, zone);
      quarters[(x < zone.x + zone.width / 2 ? 0 : 1) + (y < zone.y + zone.height / 2 ? 0 : 2)]! += 1;
    }
    for (const count of quarters) expect(count).toBeGreaterThan(0.2 * ids.length);
    // Distinct agents, distinct spots.
    const spots = new Set(ids.map((id) => JSON.stringify(agentPosition(id, 5, zone))));
    expect(spots.size).toBe(ids.length);
  });

  it('puts an agent at the same relative spot in zones of different sizes', () => {
    const a = { x: 0, y: 0, width: 300, height: 600 };
    const b = { x: 400, y: 400, width: 400, height: 400 };
    for (const id of IDS.slice(0, 50)) {
      const p = agentPosition(id, 3, a);
      const q = agentPosition(id, 3, b);
      expect((p.x - a.x) / a.width).toBeCloseTo((q.x - b.x) / b.width, 9);
      expect((p.y - a.y) / a.height).toBeCloseTo((q.y - b.y) / b.height, 9);
    }
  });
});
