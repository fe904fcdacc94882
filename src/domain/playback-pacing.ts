/**
 * How long to wait before showing the next frame of a recorded session: the original gap divided by
 * `timeScale`, never negative, capped at `maxGapMs`. The first frame is shown at once.
 */
export function playbackDelayMs(previous: Date | null, current: Date, timeScale: number, maxGapMs: number): number {
  if (previous === null) return 0;
  const gap = Math.max(0, current.getTime() - previous.getTime()) / timeScale;
  return Math.min(gap, maxGapMs);
}
