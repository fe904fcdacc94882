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
  const { db } = database;

  async function projectEvents(viewer: Viewer | null, projectId: string, since: string | null | undefined) {
    requireProjectReader(viewer, projectId);
    const from = since != null ? requireSequence(since, 'since') : null;
    // Listen before reading, so nothing committed from here on can be missed.
    const grew = pubsub.subscribe('projectEvents', projectId, { bufferLimit: config.limits.subscriberBufferEvents });
    let last: Sequence;
    try {
      const head = await findProject(db, projectId);
      last = from ?? (head && head.eventCount > 0 ? sequenceOf({ ms: head.lastMs, n: head.lastN }) : START);
    } catch (error) {
      await grew.return?.();
      throw error;
    }

    return new Repeater<StreamEvent>(async (push, stop) => {
      let stale = true;
      let wake: () => void = () => undefined;
      void (async () => {
        for await (const _ of grew) {
          stale = true;
          wake();
        }
      })().catch((error: unknown) => stop(error));
      void stop.then(() => grew.return?.());
      try {
        for (;;) {
          stale = false;
          const rows = await listStreamEvents(db, projectId, last, null, PAGE);
          for (const row of rows) {
            await push(toStreamEvent(row));
            last = sequenceOf(row);
          }
          if (rows.length === PAGE || stale) continue;
          const woken = new Promise<void>((resolve) => (wake = resolve));
          if ((await Promise.race([woken.then(() => 'woken'), stop.then(() => 'stopped')])) === 'stopped') return;
        }
      } catch (error) {
        stop(error);
      }
    });
  }

  /** Every event, oldest first, a page at a time (constant memory for any stream length). */
  async function exportEvents(viewer: Viewer | null, projectId: string): Promise<AsyncIterable<StreamEvent>> {
    requireProjectReader(viewer, projectId);
    if (!(await findProject(db, projectId))) throw notFound(`Project ${projectId}`);
    return (async function* pages() {
      let last = START;
      for (;;) {
        const rows = await listStreamEvents(db, projectId, last, null, PAGE);
        for (const row of rows) yield toStreamEvent(row);
        if (rows.length < PAGE) return;
        last = sequenceOf(rows[rows.length - 1]!);
      }
    })();
  }

  return { projectEvents, exportEvents };
}
