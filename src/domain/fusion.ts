import type { JsonObject, JsonValue } from './json.js';

/** Versioned so a stored trace says which rules produced it; replays report mismatches across versions. */
export const FUSION_ALGORITHM = 'max-confidence/v1';

export interface ContextSource {
  source: string;
  data: JsonObject;
  confidence: number;
  observedAt: Date | null;
}

export interface Fusion {
  /** The value chosen for every top-level key present in any source. */
  state: JsonObject;
  /** For every key in `state`, the name of the source it came from. */
  provenance: Record<string, string>;
  fusedAt: string;
  algorithm: string;
}

interface Candidate {
  value: JsonValue;
  source: string;
  confidence: number;
  observedAt: number;
  position: number;
}

const beats = (a: Candidate, b: Candidate) =>
  a.confidence !== b.confidence
    ? a.confidence > b.confidence
    : a.observedAt !== b.observedAt
      ? a.observedAt > b.observedAt
      : a.position > b.position;

/**
 * Fuses one update's sources: per top-level key the source with the highest confidence wins, ties go to the
 * later `observedAt` (a source without one counts as observed at the update's timestamp), then to the later position.
 */
export function fuseSources(sources: readonly ContextSource[], updateTimestamp: Date, fusedAt: Date): Fusion {
  const winners = new Map<string, Candidate>();
  sources.forEach((source, position) => {
    const observedAt = (source.observedAt ?? updateTimestamp).getTime();
    for (const [key, value] of Object.entries(source.data)) {
      const candidate = { value, source: source.source, confidence: source.confidence, observedAt, position };
      const current = winners.get(key);
      if (!current || beats(candidate, current)) winners.set(key, candidate);
    }
  });
  const state: JsonObject = {};
  const provenance: Record<string, string> = {};
  for (const [key, winner] of [...winners].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    state[key] = winner.value;
    provenance[key] = winner.source;
  }
  return { state, provenance, fusedAt: fusedAt.toISOString(), algorithm: FUSION_ALGORITHM };
}

/** The session's context after an update: the previous state with the fused keys laid over it. */
export const applyFusion = (previous: JsonObject, fusion: Pick<Fusion, 'state'>): JsonObject => ({
  ...previous,
  ...fusion.state,
});
