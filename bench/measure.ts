/** Statistics shared by every benchmark: rounds interleaved A B B A so drift on a shared machine hits both sides. */
export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface Ratio {
  ratio: number;
  min: number;
  max: number;
  rounds: number;
}

/**
 * Runs `measureA` and `measureB` in ABBA order for `rounds` rounds (after one discarded warm-up of each) and
 * reports the median, min and max of the per-round ratio A / B.
 */
export async function interleavedRatio(rounds: number, measureA: () => Promise<number>, measureB: () => Promise<number>) {
  await measureA();
  await measureB();
  const ratios: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const first = round % 2 === 0;
    const x1 = first ? await measureA() : await measureB();
    const x2 = first ? await measureB() : await measureA();
    const [valueA, valueB] = first ? [x1, x2] : [x2, x1];
    a.push(valueA);
    b.push(valueB);
    ratios.push(valueA / valueB);
  }
  return { ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), rounds, a: median(a), b: median(b) };
}

/** Wall time of `work`, in seconds. */
export async function secondsOf(work: () => Promise<unknown>) {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Wall time of `count` sequential calls, in milliseconds per call. */
export async function perCallMs(count: number, call: () => Promise<unknown>) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) await call();
  return Number(process.hrtime.bigint() - start) / 1e6 / count;
}

/** A benchmark's target: the ratio must stay at most or at least a bound. */
export type Target = { atMost: number } | { atLeast: number };

/** The result record of an interleaved ratio against its target, with the absolute figures behind it. */
export function toResult(name: string, measured: Ratio, target: Target, figures: Record<string, number>) {
  const [text, pass] =
    'atMost' in target ? [`<= ${target.atMost}`, measured.ratio <= target.atMost] : [`>= ${target.atLeast}`, measured.ratio >= target.atLeast];
  return { name, ratio: measured.ratio, min: measured.min, max: measured.max, target: text, pass, figures: { ...figures, rounds: measured.rounds } };
}
