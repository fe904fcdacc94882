import { requireIngest } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { matchesNeed } from '../domain/data-needs.js';
import type { DataItem } from '../domain/project-state.js';
import { compareSequences, formatSequence, nextSequence, type Sequence } from '../domain/sequences.js';
import { AppError, badInput } from '../errors.js';
import type { BulkWriter } from '../store/bulk-insert.js';
import type { Tx } from '../store/database.js';
import {
  existingSequences,
  findStreamEvent,
  insertSnapshot,
  insertStreamEvents,
  listProjectData,
  lockProject,
  updateProjectHead,
  upsertProjectData,
  type NewStreamEvent,
  type Project,
} from '../store/project-streams.js';
import type { ServiceDeps } from './deps.js';
import { writeOnce } from './idempotent-writes.js';
import { rejectNulCharacters, requireId } from './input-checks.js';
import {
  AGENT_REGISTERED,
  DATA_PUBLISHED,
  dataItemFromEvent,
  dataItemFromLatest,
  requireSequence,
  sequenceOf,
  toStreamEvent,
  type PublishedData,
  type StreamEvent,
} from './stream-events.js';

/** A state snapshot is taken after this many data_published events, bounding what stateAt ever replays. */
export const SNAPSHOT_INTERVAL = 500;
export const MAX_IMPORT_EVENTS = 1000;
/**
 * How far ahead of the server clock an imported sequence may be. The head never moves back, so an event from
 * the future would stamp every later publish with its millisecond (or later) until the clock caught up.
 */
export const MAX_IMPORT_AHEAD_MS = 60_000;

export interface StreamEventInput {
  sequence: string;
  eventType: string;
  data?: unknown;
  timestamp?: Date | null;
}

/** What registerAgent answers (and, under a clientEventId, keeps for a retry). */
export interface AgentRegistration {
  agentId: string;
  matchedData: DataItem[];
  caughtUpTo: string;
}

type Appended = Omit<NewStreamEvent, 'projectId'>;

/**
 * Appends events (already in sequence order, all after the head) to a project inside the caller's transaction:
 * the rows, each key's latest value, a state snapshot every SNAPSHOT_INTERVAL data events, and the new head.
 */
async function appendEvents(tx: Tx, bulk: BulkWriter, head: Project, events: readonly Appended[]) {
  const dataEvents = events.filter((e) => e.dataKey !== null);
  let sinceSnapshot = head.sinceSnapshot;
  // Built only when this batch reaches a snapshot, and updated in place (a copy per event would be quadratic).
  let state: Record<string, DataItem> | null = null;
  if (sinceSnapshot + dataEvents.length >= SNAPSHOT_INTERVAL) {
    state = Object.fromEntries((await listProjectData(tx, head.id)).map((row) => [row.dataKey, dataItemFromLatest(row)]));
  }
  /** Each key's last event in this batch, with the value it sets. */
  const latest = new Map<string, { event: Appended; item: DataItem }>();
  for (const event of dataEvents) {
    const item = dataItemFromEvent(event);
    latest.set(item.dataKey, { event, item });
    sinceSnapshot += 1;
    if (state) {
      state[item.dataKey] = item;
      if (sinceSnapshot >= SNAPSHOT_INTERVAL) {
        await insertSnapshot(tx, head.id, event, state);
        sinceSnapshot = 0;
      }
    }
  }
  await insertStreamEvents(bulk, events.map((e) => ({ ...e, projectId: head.id })));
  await upsertProjectData(
    bulk,
    head.id,
    [...latest.values()].map(({ event, item }) => ({
      dataKey: item.dataKey,
      data: item.data,
      description: item.description,
      ms: event.ms,
      n: event.n,
      updatedAt: event.timestamp,
    })),
  );
  const last = events.at(-1);
  if (last) await updateProjectHead(tx, head.id, { added: events.length, last, sinceSnapshot });
}

const headOf = (project: Project): Sequence | null => (project.eventCount > 0 ? sequenceOf({ ms: project.lastMs, n: project.lastN }) : null);

/** Publishing, agent registration and import: every write to a project's append-only stream. */
export function createProjectWrites({ database, pubsub, now }: ServiceDeps) {
  const { db, provider, bulk } = database;

  /** Appends one new event after the head the caller locked, stamped with the next sequence (the clock's millisecond, or n + 1 within it). */
  async function appendAfter(tx: Tx, head: Project, event: { eventType: string; dataKey: string | null; data: unknown }) {
    const timestamp = now();
    const sequence = nextSequence(headOf(head), timestamp.getTime());
    await appendEvents(tx, bulk, head, [{ ...event, ...sequence, timestamp }]);
    return { sequence: formatSequence(sequence), projectId: head.id, eventType: event.eventType, data: event.data, timestamp } satisfies StreamEvent;
  }

  const announce = (projectId: string, sequence: string) => pubsub.publish('projectEvents', projectId, { sequence });

  async function publishData(
    viewer: Viewer | null,
    input: { projectId: string; dataKey: string; data?: unknown; description?: string | null; clientEventId?: string | null },
  ): Promise<StreamEvent> {
    requireId(input.projectId, 'projectId');
    requireId(input.dataKey, 'dataKey');
    rejectNulCharacters([input.data, input.description], 'data');
    if (input.description != null && input.description.length > 2000) throw badInput('description must be at most 2000 characters', 'description');
    requireIngest(viewer, 'Writing to projects');
    const key = input.clientEventId
      ? { scope: `project:${input.projectId}`, operation: 'publishData', key: requireId(input.clientEventId, 'clientEventId') }
      : null;
    const payload: PublishedData = { dataKey: input.dataKey, data: input.data ?? null, description: input.description ?? null };
    const { result, duplicate } = await writeOnce(db, key, now, {
      write: async (tx) =>
        appendAfter(tx, await lockProject(tx, provider, input.projectId, now()), { eventType: DATA_PUBLISHED, dataKey: input.dataKey, data: payload }),
      toStored: (event) => ({ sequence: event.sequence }),
      fromStored: async (stored, tx) => {
        const row = await findStreamEvent(tx, input.projectId, requireSequence(stored.sequence, 'sequence'));
        return row ? toStreamEvent(row) : null;
      },
    });
    if (!duplicate) await announce(result.projectId, result.sequence);
    return result;
  }

  /**
   * The latest value of each key matching the agent's needs, published after lastSeenSequence; the registration
   * is itself an event. With a clientEventId, a retry answers the first registration and appends nothing.
   */
  async function registerAgent(
    viewer: Viewer | null,
    input: { projectId: string; agentId: string; dataNeeds: readonly string[]; lastSeenSequence: string; clientEventId?: string | null },
  ): Promise<AgentRegistration> {
    requireId(input.projectId, 'projectId');
    requireId(input.agentId, 'agentId');
    if (input.dataNeeds.length > 100) throw badInput('dataNeeds must hold at most 100 needs', 'dataNeeds');
    rejectNulCharacters(input.dataNeeds, 'dataNeeds');
    const lastSeen = requireSequence(input.lastSeenSequence, 'lastSeenSequence');
    requireIngest(viewer, 'Writing to projects');
    const key = input.clientEventId
      ? { scope: `project:${input.projectId}`, operation: 'registerAgent', key: requireId(input.clientEventId, 'clientEventId') }
      : null;
    const { result, duplicate } = await writeOnce<AgentRegistration, AgentRegistration>(db, key, now, {
      write: async (tx) => {
        // Lock first: the catch-up must be exactly the state as of caughtUpTo, with no publish slipping in between.
        const head = await lockProject(tx, provider, input.projectId, now());
        const latest = await listProjectData(tx, input.projectId, lastSeen);
        const matchedData = latest
          .filter((row) => input.dataNeeds.some((need) => matchesNeed(need, row.dataKey, row.description)))
          .map(dataItemFromLatest);
        const registered = await appendAfter(tx, head, {
          eventType: AGENT_REGISTERED,
          dataKey: null,
          data: { agentId: input.agentId, dataNeeds: input.dataNeeds, lastSeenSequence: input.lastSeenSequence, matchedKeys: matchedData.map((m) => m.dataKey) },
        });
        return { agentId: input.agentId, matchedData, caughtUpTo: registered.sequence };
      },
      // The whole answer is kept: the catch-up it reported cannot be recomputed once the stream has moved on.
      toStored: (registration) => registration,
      fromStored: (stored) => stored,
    });
    if (!duplicate) await announce(input.projectId, result.caughtUpTo);
    return result;
  }

  /**
   * Restores events exported elsewhere, keeping their sequences. Events already here are skipped (so re-importing
   * is a no-op); anything else must come after the project's last event: history is never rewritten.
   */
  async function importEvents(viewer: Viewer | null, projectId: string, inputs: readonly StreamEventInput[]) {
    requireId(projectId, 'projectId');
    requireIngest(viewer, 'Writing to projects');
    if (inputs.length > MAX_IMPORT_EVENTS) throw badInput(`events must hold at most ${MAX_IMPORT_EVENTS} events`, 'events');
    const latestAllowed = now().getTime() + MAX_IMPORT_AHEAD_MS;
    rejectNulCharacters(inputs, 'events');
    const events = inputs.map((input, i) => {
      const sequence = requireSequence(input.sequence, `events[${i}].sequence`);
      if (sequence.ms === 0 && sequence.n === 0) throw badInput('"0" is not an event sequence', `events[${i}].sequence`);
      if (sequence.ms > latestAllowed) {
        throw badInput(`event ${input.sequence} is more than ${MAX_IMPORT_AHEAD_MS / 1000} s ahead of the server clock`, `events[${i}].sequence`);
      }
      const previous = i > 0 ? requireSequence(inputs[i - 1]!.sequence, 'sequence') : null;
      if (previous && compareSequences(previous, sequence) >= 0) throw badInput('events must be in increasing sequence order', `events[${i}].sequence`);
      return { ...sequence, eventType: requireId(input.eventType, `events[${i}].eventType`, 100), data: input.data ?? null, timestamp: input.timestamp ?? new Date(sequence.ms), index: i };
    });
    const appended = events.map((e) => {
      if (e.eventType !== DATA_PUBLISHED) return { ...e, dataKey: null };
      const published = e.data as Partial<PublishedData> | null;
      if (typeof published?.dataKey !== 'string' || published.dataKey === '' || published.data === undefined || published.data === null) {
        throw badInput('a data_published event needs data { dataKey, data, description } with a non-null data', `events[${e.index}].data`);
      }
      return { ...e, dataKey: published.dataKey, data: { dataKey: published.dataKey, data: published.data, description: published.description ?? null } };
    });

    const result = await db.$transaction(async (tx) => {
      const head = await lockProject(tx, provider, projectId, now());
      const last = headOf(head);
      const present = await existingSequences(tx, projectId, appended, last);
      const fresh = appended.filter((e) => !present.has(formatSequence(e)));
      const early = last ? fresh.find((e) => compareSequences(e, last) <= 0) : undefined;
      if (early) {
        throw new AppError('CONFLICT', `Event ${formatSequence(early)} is not in the project and not after its last event ${formatSequence(last!)}`, {
          sequence: formatSequence(early),
          lastSequence: formatSequence(last!),
        });
      }
      await appendEvents(tx, bulk, head, fresh.map(({ index: _index, ...event }) => event));
      const newLast = fresh.at(-1) ?? last;
      return { importedCount: fresh.length, skippedCount: appended.length - fresh.length, lastSequence: newLast ? formatSequence(newLast) : null };
    });
    if (result.importedCount > 0 && result.lastSequence) await announce(projectId, result.lastSequence);
    return result;
  }

  return { publishData, registerAgent, importEvents };
}
