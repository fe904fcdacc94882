import { Repeater } from '@repeaterjs/repeater';
import { requireProjectReader } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { START, type Sequence } from '../domain/sequences.js';
import { notFound } from '../errors.js';
import { findProject, listStreamEvents } from '../store/project-streams.js';
import type { ServiceDeps } from './deps.js';
import { requireSequence, sequenceOf, toStreamEvent, type StreamEvent } from './stream-events.js';

const PAGE = 500;

/**
 * Live and bulk reads of a project's stream. The feed is pull-based: a notification only says "the stream grew";
 * the subscriber then reads every event after the last one it delivered, in order, from the store. So switching
 * from history to live can neither skip nor repeat an event (sequences are allocated under the project lock, in
 * commit order), and a slow subscriber costs at most one page of memory instead of a growing buffer.
 */
export function createProjectFeeds({ database, pubsub, config }: ServiceDeps) {
  // Reads outside a transaction: the read connection, which sees only committed events.
  const { read } = database;

  async function projectEvents(viewer: Viewer | null, projectId: string, since: string | null | undefined) {
    requireProjectReader(viewer, projectId);
    const from = since != null ? requireSequence(since, 'since') : null;

    // Everything happens once the stream is first pulled (a Repeater's executor runs on its first next()), so a
    // stream that is dropped before that holds nothing: no listener, no read.
    return new Repeater<StreamEvent>(async (push, stop) => {
      /** Set once the subscriber has gone (or the feed ended): push then resolves at once, so it must be checked. */
      let stopped = false;
      let stale = true;
      let wake: () => void = () => undefined;
      let listening: () => void = () => undefined;
      const listens = new Promise<void>((resolve) => (listening = resolve));
      const grew = pubsub.subscribe('projectEvents', projectId, {
        bufferLimit: config.limits.subscriberBufferEvents,
        onListening: () => listening(),
      });
      void stop.then(() => {
        stopped = true;
        wake();
        void grew.return?.();
      });
      // Listen before reading, so nothing committed from here on can be missed: the for-await below pulls `grew`,
      // and the head (or the first page) is read only once that listener is live (with Redis: subscribed).
      void (async () => {
        for await (const _ of grew) {
          stale = true;
          wake();
        }
        // The notifications ended (the pubsub closed at shutdown): end the feed too, so SSE responses finish.
        stop();
      })().catch((error: unknown) => stop(error));
      try {
        await Promise.race([listens, stop]);
        let last: Sequence = from ?? (await headOf(projectId)) ?? START;
        while (!stopped) {
          stale = false;
          const rows = await listStreamEvents(read, projectId, last, null, PAGE);
          for (const row of rows) {
            await push(toStreamEvent(row));
            if (stopped) return;
            last = sequenceOf(row);
          }
          if (rows.length === PAGE || stale) continue;
          if (stopped) return;
          // Woken by the next notification or by stop; nothing is left waiting on `stop` per round.
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } catch (error) {
        stop(error);
      }
    });
  }

  /** The project's last sequence, or null when it has no events. */
  async function headOf(projectId: string): Promise<Sequence | null> {
    const head = await findProject(read, projectId);
    return head && head.eventCount > 0 ? sequenceOf({ ms: head.lastMs, n: head.lastN }) : null;
  }

  /** Every event, oldest first, a page at a time (constant memory for any stream length). */
  async function exportEvents(viewer: Viewer | null, projectId: string): Promise<AsyncIterable<StreamEvent>> {
    requireProjectReader(viewer, projectId);
    if (!(await findProject(read, projectId))) throw notFound(`Project ${projectId}`);
    return (async function* pages() {
      let last = START;
      for (;;) {
        const rows = await listStreamEvents(read, projectId, last, null, PAGE);
        for (const row of rows) yield toStreamEvent(row);
        if (rows.length < PAGE) return;
        last = sequenceOf(rows[rows.length - 1]!);
      }
    })();
  }

  return { projectEvents, exportEvents };
}
