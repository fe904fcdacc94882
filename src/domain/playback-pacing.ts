/**
 * How long to wait before showing the next frame of a recorded session: the original gap divided by
 * `timeScale`, never negative, capped at `maxGapMs`. The first frame is shown at once.
 */
export function playbackDelayMs(previous: Date | null, current: Date, timeScale: number, maxGapMs: number): number {
  if (previous === null) return 0;
  const gap = Math.max(0, current.getTime() - previous.getTime()) / timeScale;
  return Math.min(gap, maxGapMs);
}

/**
 * The fastest `replayPlayback` speed a client may ask for, and the way to ask for no pacing at all: at this speed
 * frames go out as fast as they are read and the subscriber takes them, whatever the configured base rate.
 */
export const MAX_PLAYBACK_SPEED = 1000;

/** Milliseconds between ticks played at `speed` × `ticksPerSecond`; 0 (unpaced) at MAX_PLAYBACK_SPEED. */
export function tickIntervalMs(speed: number, ticksPerSecond: number): number {
  return speed >= MAX_PLAYBACK_SPEED ? 0 : 1000 / (speed * ticksPerSecond);
}
