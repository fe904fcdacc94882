/**
 * Stream sequences, `{unixMs}-{n}` as Redis Streams number entries: strictly increasing per project, ordered by
 * (ms, n). "0" stands for "before the first event".
 */
export interface Sequence {
  ms: number;
  n: number;
}

export const START: Sequence = { ms: 0, n: 0 };
/** Greater than any real `n`: `{ ms, n: MAX_N }` means "the end of millisecond ms". */
export const MAX_N = 2_147_483_647;

const FORMAT = /^(\d{1,15})-(\d{1,10})$/;

/** Null when the text is not a sequence ("0" is accepted as the start). */
export function parseSequence(text: string): Sequence | null {
  if (text === '0') return START;
  const match = FORMAT.exec(text);
  if (!match) return null;
  const ms = Number(match[1]);
  const n = Number(match[2]);
  return Number.isSafeInteger(ms) && n <= MAX_N ? { ms, n } : null;
}

export const formatSequence = (s: Sequence) => `${s.ms}-${s.n}`;

export const compareSequences = (a: Sequence, b: Sequence) => a.ms - b.ms || a.n - b.n;

/**
 * The sequence a new event gets: the clock's millisecond, or the same one again with the next n when the clock
 * stands still or stepped back; once n is used up within a millisecond, the next millisecond (never an n past MAX_N).
 */
export function nextSequence(last: Sequence | null, nowMs: number): Sequence {
  if (!last || nowMs > last.ms) return { ms: nowMs, n: 0 };
  if (last.n >= MAX_N) return { ms: last.ms + 1, n: 0 };
  return { ms: last.ms, n: last.n + 1 };
}

/** Every event up to and including instant `at` has a sequence at or before this one. */
export const sequenceAtInstant = (at: Date): Sequence => ({ ms: at.getTime(), n: MAX_N });
