import { setTimeout as sleep } from 'node:timers/promises';
import { Repeater } from '@repeaterjs/repeater';
import { requirePerson } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import type { JsonObject } from '../domain/json.js';
import { playbackDelayMs } from '../domain/playback-pacing.js';
import { notFound } from '../errors.js';
import { findSessions } from '../store/sessions.js';
import { countSessionTraces, listSessionTraces, type TraceRow } from '../store/traces.js';
import type { ServiceDeps } from './deps.js';
import { requireIntInRange, requirePositive } from './input-checks.js';

export interface SessionPlaybackInput {
  personId: string;
  sessionId: string;
  timeScale: number;
  from?: Date | null;
  maxGapMs: number;
}

export type SessionPlaybackFrame =
  | { done: false; trace: TraceRow; context: JsonObject; index: number; total: number; isReplay: boolean }
  | { done: true; trace: null; context: null; index: number; total: number; isReplay: boolean };

const READ_AHEAD = 200;

/**
 * Replays a stored session's updates in order, paced like the original (gaps divided by timeScale, capped at
 * maxGapMs), then one final `done` frame. Reads the history a page at a time and stops as soon as the
 * subscriber leaves.
 */
export function createSessionPlayback({ database }: ServiceDeps) {
  const { read } = database;

  async function sessionPlayback(viewer: Viewer | null, input: SessionPlaybackInput) {
    requirePerson(viewer, input.personId);
    requirePositive(input.timeScale, 'timeScale');
    requireIntInRange(input.maxGapMs, 'maxGapMs', 0, 3_600_000);
    const [session] = await findSessions(read, [{ personId: input.personId, sessionId: input.sessionId }]);
    if (!session) throw notFound(`Session ${input.sessionId}`);
    const from = input.from ?? null;
    // The history as of now: updates arriving during playback are not part of it (`total` stays true).
    const window = { from, upToSeq: session.lastSeq };
    const total = await countSessionTraces(read, input.personId, input.sessionId, window);

    return new Repeater<SessionPlaybackFrame>(async (push, stop) => {
      const leaving = new AbortController();
      void stop.then(() => leaving.abort());
      let previous: Date | null = null;
      let index = 0;
      let afterSeq = 0;
      try {
        for (;;) {
          const page = await listSessionTraces(read, input.personId, input.sessionId, READ_AHEAD, afterSeq, window);
          for (const trace of page) {
            await sleep(playbackDelayMs(previous, trace.timestamp, input.timeScale, input.maxGapMs), undefined, {
              signal: leaving.signal,
            });
            previous = trace.timestamp;
            const frame = { done: false as const, trace, context: trace.contextAfter as JsonObject, index, total, isReplay: true };
            index += 1;
            await push(frame);
          }
          if (page.length < READ_AHEAD) break;
          afterSeq = page[page.length - 1]?.seq ?? afterSeq;
        }
        await push({ done: true, trace: null, context: null, index, total, isReplay: true });
        stop();
      } catch (error) {
        if (!leaving.signal.aborted) stop(error);
      }
    });
  }

  return { sessionPlayback };
}
