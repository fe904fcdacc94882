import { describe, expect, it } from 'vitest';
import { MAX_PLAYBACK_SPEED, playbackDelayMs, tickIntervalMs } from '../../src/domain/playback-pacing.js';

const t = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

describe('playbackDelayMs', () => {
  it('shows the first frame at once', () => expect(playbackDelayMs(null, t(0), 1, 5000)).toBe(0));
  it('divides the original gap by timeScale', () => {
    expect(playbackDelayMs(t(0), t(1000), 1, 5000)).toBe(1000);
    expect(playbackDelayMs(t(0), t(1000), 4, 5000)).toBe(250);
    expect(playbackDelayMs(t(0), t(1000), 0.5, 5000)).toBe(2000);
  });
  it('caps the wait at maxGapMs', () => expect(playbackDelayMs(t(0), t(60_000), 1, 5000)).toBe(5000));
  it('never waits a negative time', () => expect(playbackDelayMs(t(1000), t(0), 1, 5000)).toBe(0));
});

describe('tickIntervalMs', () => {
  it('spaces ticks at speed × the base rate', () => {
    expect(tickIntervalMs(1, 10)).toBe(100);
    expect(tickIntervalMs(4, 10)).toBe(25);
    expect(tickIntervalMs(0.5, 10)).toBe(200);
  });
  it('does not pace at the maximum speed, whatever the base rate', () => {
    expect(tickIntervalMs(MAX_PLAYBACK_SPEED, 0.001)).toBe(0);
    expect(tickIntervalMs(MAX_PLAYBACK_SPEED - 1, 0.001)).toBeGreaterThan(0);
  });
});
