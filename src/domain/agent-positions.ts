import { createHash } from 'node:crypto';
import type { Rect } from './layouts.js';

const unit = (text: string, offset: number) => createHash('sha256').update(text).digest().readUInt32BE(offset) / 2 ** 32;

/** The margin kept from a zone's edges, as a share of its size. */
const MARGIN = 0.05;
/** How far an agent drifts from its home spot from tick to tick, as a share of the zone. */
const DRIFT = 0.02;

/**
 * Where an agent is drawn: a home spot inside its zone fixed by its id, plus a small drift fixed by (id, tick),
 * always inside the zone. Deterministic, so every client and every replay of the same tick agree.
 */
export function agentPosition(agentId: string, tick: number, zone: Rect): { x: number; y: number } {
  const home = [unit(agentId, 0), unit(agentId, 4)] as const;
  const drift = [unit(`${agentId}@${tick}`, 0), unit(`${agentId}@${tick}`, 4)] as const;
  const place = (i: 0 | 1) => Math.min(1 - MARGIN, Math.max(MARGIN, MARGIN + home[i] * (1 - 2 * MARGIN) + (drift[i] - 0.5) * 2 * DRIFT));
  return { x: zone.x + place(0) * zone.width, y: zone.y + place(1) * zone.height };
}
