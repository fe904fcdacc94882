/** `smoke` runs each benchmark on tiny data (the test suite does, so the suite cannot rot); `full` is the real run. */
export type BenchmarkSize = 'smoke' | 'full';

export interface BenchmarkResult {
  name: string;
  /** Gateway ÷ baseline (median of the interleaved rounds). */
  ratio: number;
  min: number;
  max: number;
  target: string;
  pass: boolean;
  /** The absolute figures behind the ratio. */
  figures: Record<string, number>;
}
