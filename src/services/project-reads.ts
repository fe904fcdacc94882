import { isAdmin, requireProjectReader, requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { applyDataEvents, stateItems, type DataItem, type ProjectState } from '../domain/project-state.js';
import { formatSequence, sequenceAtInstant, START, type Sequence } from '../domain/sequences.js';
import { badInput } from '../errors.js';
import {
  countProjects,
  countStreamEvents,
  findProject,
  findSnapshotAtOrBefore,
  listDataEvents,
  listProjectData,
  listProjects,
  listStreamEvents,
  topKeys,
  updatesPerHour,
  type Project,
} from '../store/project-streams.js';
import type { ServiceDeps } from './deps.js';
import { requireIntInRange } from './input-checks.js';
import { afterKey, pageSize, toPage, type Page, type PageArgs } from './pages.js';
import { dataItemFromEvent, dataItemFromLatest, requireSequence, sequenceOf, toStreamEvent, type StreamEvent } from './stream-events.js';

const HOUR_MS = 3_600_000;
const MAX_RANGE_MS = 31 * 24 * HOUR_MS;

/** A project as the API shows it: its head. */
export interface ProjectView {
  id: string;
  eventCount: number;
  lastSequence: string | null;
}

const viewOf = (row: Project): ProjectView => ({
  id: row.id,
  eventCount: row.eventCount,
  lastSequence: row.eventCount > 0 ? formatSequence(sequenceOf({ ms: row.lastMs, n: row.lastN })) : null,
});

/** Reading project streams: pages of events, state as of any moment, and figures computed by the database. */
export function createProjectReads({ database, config, now }: ServiceDeps) {
  // Every read here is outside a transaction: the read connection, which sees only committed rows.
  const { read, provider } = database;

  /** Null for a project with no events yet. */
  async function project(viewer: Viewer | null, id: string): Promise<ProjectView | null> {
    requireProjectReader(viewer, id);
    const row = await findProject(read, id);
    return row ? viewOf(row) : null;
  }

  /** The projects this viewer may read, by id. */
  async function projects(viewer: Viewer | null, args: PageArgs): Promise<Page<ProjectView>> {
    const v = requireViewer(viewer);
    const readable = isAdmin(v) || v.roles.has('ingest') || v.projects === '*' ? '*' : [...v.projects];
    const size = pageSize(args, config.limits.maxPageSize);
    const key = afterKey('projects', args, ['string']);
    const rows = await listProjects(read, readable, size + 1, key ? String(key[0]) : null);
    return toPage('projects', rows.map(viewOf), size, args, (p) => [p.id], () => countProjects(read, readable));
  }

  /** Oldest first, strictly after `since`, up to and including `until`; each cursor is the event's sequence. */
  async function events(viewer: Viewer | null, projectId: string, args: { since?: string | null; until?: string | null; first?: number | null }) {
    requireProjectReader(viewer, projectId);
    const size = pageSize(args, config.limits.maxPageSize);
    const since = requireSequence(args.since ?? '0', 'since');
    const until = args.until != null ? requireSequence(args.until, 'until') : null;
    const rows = await listStreamEvents(read, projectId, since, until, size + 1);
    const page = rows.slice(0, size).map(toStreamEvent);
    return {
      edges: page.map((node) => ({ cursor: node.sequence, node })),
      hasNextPage: rows.length > size,
      hasPreviousPage: args.since !== undefined && args.since !== null && args.since !== '0',
      totalCount: () => countStreamEvents(read, projectId, since, until),
    } satisfies Page<StreamEvent>;
  }

  /**
   * Every key's latest value as of a moment: the nearest snapshot at or before it, plus the (at most one
   * snapshot interval of) data events after the snapshot, so the cost does not grow with the stream's length.
   */
  async function stateAt(viewer: Viewer | null, projectId: string, args: { at?: Date | null; sequence?: string | null }): Promise<DataItem[]> {
    requireProjectReader(viewer, projectId);
    if (args.at != null && args.sequence != null) throw badInput('give at or sequence, not both', 'sequence');
    const bound: Sequence | null =
      args.sequence != null ? requireSequence(args.sequence, 'sequence') : args.at != null ? sequenceAtInstant(args.at) : null;
    if (!bound) return (await listProjectData(read, projectId)).map(dataItemFromLatest);
    const snapshot = await findSnapshotAtOrBefore(read, projectId, bound);
    const base = (snapshot?.state as ProjectState | undefined) ?? {};
    const after = snapshot ? sequenceOf(snapshot) : START;
    const rest = await listDataEvents(read, projectId, after, bound);
    return stateItems(applyDataEvents(base, rest.map(dataItemFromEvent)));
  }

  async function mostUpdatedKeys(viewer: Viewer | null, projectId: string, limit: number) {
    requireProjectReader(viewer, projectId);
    requireIntInRange(limit, 'limit', 1, 100);
    return topKeys(read, projectId, limit);
  }

  /** One row per UTC hour from `from` to `to` (default: the last 24 hours), zeros included. */
  async function updatesByHour(viewer: Viewer | null, projectId: string, args: { from?: Date | null; to?: Date | null }) {
    requireProjectReader(viewer, projectId);
    const to = args.to ?? now();
    const from = args.from ?? new Date(to.getTime() - 23 * HOUR_MS);
    if (from > to) throw badInput('from must not be after to', 'from');
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw badInput('the range must span at most 31 days', 'to');
    const first = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS;
    const hours = Math.floor(to.getTime() / HOUR_MS) - first / HOUR_MS + 1;
    const counts = await updatesPerHour(read, provider, projectId, new Date(first), new Date(first + hours * HOUR_MS));
    return Array.from({ length: hours }, (_, i) => {
      const hour = new Date(first + i * HOUR_MS);
      return { hour, count: counts.get(hour.toISOString().slice(0, 13)) ?? 0 };
    });
  }

  return { project, projects, events, stateAt, topKeys: mostUpdatedKeys, updatesByHour };
}
