import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImportEventsDocument,
  ProjectDocument,
  ProjectEventPageDocument,
  ProjectsDocument,
  PublishDataDocument,
  RegisterAgentDocument,
  StateAtDocument,
  TopKeysDocument,
  UpdatesByHourDocument,
  type DataItemFieldsFragment,
  type StreamEventFieldsFragment,
  type StreamEventInput,
} from '../generated/graphql.js';
import type { Viewer } from '../../src/auth/viewer.js';
import { loadConfig } from '../../src/config.js';
import type { AppError } from '../../src/errors.js';
import { createLocalPubSub } from '../../src/realtime/pubsub.js';
import { createServices, type Services } from '../../src/services/index.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { existingSequences, insertStreamEvents, lockProject, updateProjectHead, upsertProjectData } from '../../src/store/project-streams.js';
import { freshDatabase } from '../support/databases.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { seededRandom } from '../support/random.js';
import { compareSeq, seqKey } from '../support/sequences.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const iso = (ms: number) => new Date(ms).toISOString();
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const strictlyIncreasing = (sequences: string[]) => sequences.every((s, i) => i === 0 || compareSeq(sequences[i - 1]!, s) < 0);

/** Sequences that are not `{unixMs}-{n}` (nor "0"), refused wherever a sequence is accepted. */
const MALFORMED = ['abc', '', ' ', '1-', '-1', '-1-0', '1.5-0', '1e3-0', '1704067200000', '1704067200000-0-1', '1704067200000-x', ' 1704067200000-0', '0x10-0', '99999999999999999999999-0'];

/** An imported data_published event, timestamped at its sequence's millisecond. */
function published(ms: number, n: number, dataKey: string, value: unknown, description: string | null = null): StreamEventInput {
  return { sequence: `${ms}-${n}`, eventType: 'data_published', timestamp: iso(ms), data: { dataKey, data: value, description } };
}
function agentEvent(ms: number, n: number, agentId: string): StreamEventInput {
  return {
    sequence: `${ms}-${n}`,
    eventType: 'agent_registered',
    timestamp: iso(ms),
    data: { agentId, dataNeeds: ['anything'], lastSeenSequence: '0', matchedKeys: [] },
  };
}

/** The state a sequence of events leaves behind, computed the slow obvious way, as stateAt reports it. */
function modelState(events: StreamEventInput[]): DataItemFieldsFragment[] {
  const latest = new Map<string, DataItemFieldsFragment>();
  for (const event of events) {
    if (event.eventType !== 'data_published') continue;
    const { dataKey, data, description } = event.data as { dataKey: string; data: unknown; description: string | null };
    latest.set(dataKey, { dataKey, data, description, sequence: event.sequence, updatedAt: event.timestamp! });
  }
  return [...latest.values()].sort((a, b) => (a.dataKey < b.dataKey ? -1 : a.dataKey > b.dataKey ? 1 : 0));
}


/**
 * Section 2 of the contract, queries and mutations: publishData, project/projects, events, stateAt, topKeys,
 * updatesByHour, registerAgent, importEvents, and who may do what. Every test owns its project ids.
 */
describe('project event streams', () => {
  let gateway: TestGateway;
  let admin: string;
  let ingest: string;

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'pe-admin', roles: ['admin'] });
    ingest = await gateway.token({ sub: 'pe-ingest', roles: ['ingest'] });
  });
  afterAll(() => gateway?.close());

  async function publish(projectId: string, dataKey: string, data: unknown, description?: string | null, clientEventId?: string, token = ingest) {
    return dataOf(await gateway.execute(PublishDataDocument, { projectId, dataKey, data, description, clientEventId }, token)).publishData;
  }
  async function importEvents(projectId: string, events: StreamEventInput[], token = ingest) {
    return dataOf(await gateway.execute(ImportEventsDocument, { projectId, events }, token)).importEvents;
  }
  async function project(id: string, token = admin) {
    return dataOf(await gateway.execute(ProjectDocument, { id }, token)).project;
  }
  async function page(id: string, args: { since?: string; first?: number; until?: string } = {}, token = admin) {
    const result = dataOf(await gateway.execute(ProjectEventPageDocument, { id, ...args }, token));
    if (!result.project) throw new Error(`project ${id} is null`);
    return result.project.events;
  }
  /** Every event of a project, oldest first, following endCursor. */
  async function allEvents(id: string, token = admin): Promise<StreamEventFieldsFragment[]> {
    const events: StreamEventFieldsFragment[] = [];
    let since = '0';
    for (let pages = 0; pages < 50; pages += 1) {
      const current = await page(id, { since, first: 1000 }, token);
      events.push(...current.edges.map((e) => e.node));
      if (!current.pageInfo.hasNextPage) return events;
      since = current.pageInfo.endCursor!;
    }
    throw new Error('events pagination does not end');
  }
  async function stateAt(id: string, args: { at?: string; sequence?: string } = {}, token = admin) {
    const result = dataOf(await gateway.execute(StateAtDocument, { id, ...args }, token));
    if (!result.project) throw new Error(`project ${id} is null`);
    return result.project.stateAt;
  }
  async function topKeys(id: string, limit?: number) {
    return dataOf(await gateway.execute(TopKeysDocument, { id, limit }, admin)).project!.topKeys;
  }
  async function register(projectId: string, agentId: string, dataNeeds: string[], lastSeenSequence?: string, clientEventId?: string) {
    return dataOf(await gateway.execute(RegisterAgentDocument, { projectId, agentId, dataNeeds, lastSeenSequence, clientEventId }, ingest)).registerAgent;
  }

  describe('publishData', () => {
    it('returns the stored event with every field and a {unixMs}-{n} sequence; project(id) follows', async () => {
      const id = 'pe-fields';
      expect(await project(id)).toBeNull();

      const before = Date.now();
      const first = await publish(id, 'api_config', { base_url: 'https://api.example.com', timeout: 30 }, 'API configuration and endpoints');
      const second = await publish(id, 'api_config', { base_url: 'https://api2.example.com' });
      const after = Date.now();

      expect(first).toMatchObject({
        projectId: id,
        eventType: 'data_published',
        data: { dataKey: 'api_config', data: { base_url: 'https://api.example.com', timeout: 30 }, description: 'API configuration and endpoints' },
      });
      // No description: null in the event, not missing.
      expect(second.data).toEqual({ dataKey: 'api_config', data: { base_url: 'https://api2.example.com' }, description: null });
      for (const event of [first, second]) {
        expect(event.sequence).toMatch(/^\d+-\d+$/);
        const [ms] = seqKey(event.sequence);
        // A fresh project: the sequence's milliseconds are the publishing time.
        expect(ms).toBeGreaterThanOrEqual(before - 50);
        expect(ms).toBeLessThanOrEqual(after + 50);
        expect(event.timestamp).toMatch(ISO_MS);
        expect(Date.parse(event.timestamp)).toBeGreaterThanOrEqual(before - 50);
        expect(Date.parse(event.timestamp)).toBeLessThanOrEqual(after + 50);
      }
      expect(compareSeq(first.sequence, second.sequence)).toBeLessThan(0);

      expect(await project(id)).toEqual({ id, eventCount: 2, lastSequence: second.sequence });
      // The stored events are exactly what publishData returned.
      expect(await allEvents(id)).toEqual([first, second]);
      // Other projects are untouched; an unknown one is still null.
      expect(await project('pe-fields-other')).toBeNull();

      // Any JSON value is data.
      for (const value of [0, false, 'text', [1, 'two', { three: 3 }], { nested: { deep: [true, false] } }]) {
        expect((await publish(id, 'anything', value)).data.data).toEqual(value);
      }
      expect((await project(id))?.eventCount).toBe(7);
    });

    it('gives 20 concurrent publishes distinct, strictly increasing sequences, stored in that order', async () => {
      const id = 'pe-concurrent';
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => publish(id, `key${i % 3}`, { i })));
      const sequences = results.map((r) => r.sequence);
      expect(new Set(sequences).size).toBe(20);
      const sorted = [...sequences].sort(compareSeq);
      expect(strictlyIncreasing(sorted)).toBe(true);

      const stored = await allEvents(id);
      expect(stored.map((e) => e.sequence)).toEqual(sorted);
      // Each stored event is the one its publish returned.
      const bySequence = new Map(results.map((r) => [r.sequence, r]));
      for (const event of stored) expect(event).toEqual(bySequence.get(event.sequence));
      expect(await project(id)).toEqual({ id, eventCount: 20, lastSequence: sorted.at(-1) });
    });

    it('keeps sequences increasing when the last one is ahead of the clock', async () => {
      const id = 'pe-clock';
      // As if the clock had stepped back half a minute since the last event (imports may be at most 60 s ahead).
      const ahead = Date.now() + 30 * SECOND;
      await importEvents(id, [published(ahead, 7, 'k', 'future')]);
      const next = await publish(id, 'k', 'now');
      expect(compareSeq(`${ahead}-7`, next.sequence)).toBeLessThan(0);
      const again = await Promise.all([publish(id, 'k', 'a'), publish(id, 'k', 'b'), publish(id, 'k', 'c')]);
      const sequences = [`${ahead}-7`, next.sequence, ...again.map((e) => e.sequence).sort(compareSeq)];
      expect(strictlyIncreasing(sequences)).toBe(true);
      expect((await allEvents(id)).map((e) => e.sequence)).toEqual(sequences);
      expect((await project(id))?.lastSequence).toBe(sequences.at(-1));
    });

    it('orders sequences as numbers: 999-0 before 1000-0, and -2 before -10', async () => {
      const id = 'pe-numeric';
      const base = Date.UTC(2024, 0, 1);
      const events = [published(999, 0, 'k', 1), published(1000, 0, 'k', 2), published(base, 2, 'k', 3), published(base, 10, 'k', 4), published(base + 1, 0, 'k', 5)];
      expect(await importEvents(id, events)).toMatchObject({ importedCount: 5, skippedCount: 0, lastSequence: `${base + 1}-0` });
      expect((await allEvents(id)).map((e) => e.sequence)).toEqual(events.map((e) => e.sequence));
      expect((await page(id, { since: '1000-0' })).nodes.map((n) => n.sequence)).toEqual([`${base}-2`, `${base}-10`, `${base + 1}-0`]);
      expect((await page(id, { since: `${base}-2` })).nodes.map((n) => n.sequence)).toEqual([`${base}-10`, `${base + 1}-0`]);
      expect((await stateAt(id, { sequence: `${base}-2` }))[0]?.data).toBe(3);
      expect((await stateAt(id, { sequence: `${base}-9` }))[0]?.data).toBe(3);
      expect((await stateAt(id, { sequence: `${base}-10` }))[0]?.data).toBe(4);
    });

    it('answers a retried clientEventId with the same event and writes nothing, also when the retries race', async () => {
      const id = 'pe-idempotent';
      const first = await publish(id, 'k', { v: 1 }, 'd', 'retry-1');
      expect(await publish(id, 'k', { v: 1 }, 'd', 'retry-1')).toEqual(first);
      expect((await project(id))?.eventCount).toBe(1);

      const raced = await Promise.all(Array.from({ length: 10 }, () => publish(id, 'k', { v: 2 }, null, 'retry-2')));
      expect(new Set(raced.map((e) => e.sequence)).size).toBe(1);
      for (const event of raced) expect(event).toEqual(raced[0]);
      expect((await project(id))?.eventCount).toBe(2);

      // Later, after other events, the first key still answers the first event.
      const plain = await publish(id, 'k', { v: 3 });
      expect(await publish(id, 'k', { v: 1 }, 'd', 'retry-1')).toEqual(first);
      const stored = await allEvents(id);
      expect(stored).toEqual([first, raced[0], plain]);
      // The retried value did not become the current state either.
      expect((await stateAt(id)).map((d) => d.data)).toEqual([{ v: 3 }]);
    });
  });

  describe('projects', () => {
    it('lists only the projects the token may read, paged, with eventCount and lastSequence', async () => {
      const ids = ['pl-a', 'pl-b', 'pl-c'];
      const last = new Map<string, string>();
      for (const [i, id] of ids.entries()) for (let j = 0; j <= i; j += 1) last.set(id, (await publish(id, 'k', j)).sequence);

      async function listAll(token: string, first: number) {
        const nodes = [];
        let after: string | undefined;
        for (let pages = 0; pages < 100; pages += 1) {
          const connection = dataOf(await gateway.execute(ProjectsDocument, { first, after }, token)).projects;
          nodes.push(...connection.edges.map((e) => e.node));
          expect(connection.totalCount).toBeGreaterThanOrEqual(nodes.length);
          if (!connection.pageInfo.hasNextPage) return { nodes, totalCount: connection.totalCount };
          expect(connection.edges).toHaveLength(first);
          after = connection.pageInfo.endCursor!;
        }
        throw new Error('projects pagination does not end');
      }

      const everything = await listAll(admin, 2);
      const seen = everything.nodes.map((n) => n.id);
      expect(new Set(seen).size).toBe(seen.length);
      expect(everything.totalCount).toBe(seen.length);
      for (const [i, id] of ids.entries()) expect(everything.nodes.find((n) => n.id === id)).toEqual({ id, eventCount: i + 1, lastSequence: last.get(id) });
      // ingest and "*" read every project as well.
      for (const token of [ingest, await gateway.token({ sub: 'pl-star', projects: '*' })]) {
        expect(new Set((await listAll(token, 1000)).nodes.map((n) => n.id))).toEqual(new Set(seen));
      }

      const some = await listAll(await gateway.token({ sub: 'pl-some', projects: ['pl-a', 'pl-c', 'pl-missing'] }), 1);
      expect(some.nodes.map((n) => n.id).sort()).toEqual(['pl-a', 'pl-c']);
      expect(some.totalCount).toBe(2);
      const none = dataOf(await gateway.execute(ProjectsDocument, {}, await gateway.token({ sub: 'pl-none' }))).projects;
      expect(none).toMatchObject({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, startCursor: null, endCursor: null } });

      expect(codesOf(await gateway.execute(ProjectsDocument, {}, null))).toEqual(['UNAUTHENTICATED']);
      expect(codesOf(await gateway.execute(ProjectsDocument, { first: 1001 }, admin))).toEqual(['BAD_USER_INPUT']);
      expect(codesOf(await gateway.execute(ProjectsDocument, { after: 'junk' }, admin))).toEqual(['BAD_USER_INPUT']);
    });
  });

  describe('events(since, first, until)', () => {
    const id = 'pe-pages';
    const base = Date.UTC(2024, 5, 1, 12);
    // Nine events, some sharing a millisecond.
    const events = [
      published(base, 0, 'a', 0),
      published(base, 1, 'b', 1),
      published(base + 1000, 0, 'a', 2),
      agentEvent(base + 2000, 0, 'agent-x'),
      published(base + 2000, 1, 'c', 4),
      published(base + 2000, 2, 'a', 5),
      published(base + 3000, 0, 'b', 6),
      published(base + 4000, 0, 'c', 7),
      published(base + 5000, 0, 'a', 8),
    ];
    const seqs = events.map((e) => e.sequence);

    beforeAll(async () => {
      await importEvents(id, events);
    });

    it('lists every event oldest first with cursor = sequence and the imported fields', async () => {
      const all = await page(id);
      expect(all.edges.map((e) => e.node)).toEqual(
        events.map((e) => ({ sequence: e.sequence, projectId: id, eventType: e.eventType, data: e.data, timestamp: e.timestamp })),
      );
      expect(all.edges.map((e) => e.cursor)).toEqual(seqs);
      expect(all.nodes.map((n) => n.sequence)).toEqual(seqs);
      expect(all.totalCount).toBe(9);
      expect(all.pageInfo).toMatchObject({ hasNextPage: false, startCursor: seqs[0], endCursor: seqs[8] });
      expect(await page(id, { since: '0' })).toEqual(all);
    });

    it('pages with since = endCursor and first, without gaps or repeats', async () => {
      const seen: string[] = [];
      const hasNext: boolean[] = [];
      let since = '0';
      for (let i = 0; i < 10; i += 1) {
        const current = await page(id, { since, first: 4 });
        seen.push(...current.nodes.map((n) => n.sequence));
        hasNext.push(current.pageInfo.hasNextPage);
        if (!current.pageInfo.hasNextPage) break;
        expect(current.pageInfo.endCursor).toBe(current.nodes.at(-1)?.sequence);
        since = current.pageInfo.endCursor!;
      }
      expect(seen).toEqual(seqs);
      expect(hasNext).toEqual([true, true, false]);
      const exact = await page(id, { first: 9 });
      expect(exact.pageInfo.hasNextPage).toBe(false);
      expect(exact.nodes).toHaveLength(9);
    });

    it('returns the events strictly after since and up to and including until', async () => {
      const after = (since: string, until?: string, first?: number) => page(id, { since, until, first }).then((p) => p.nodes.map((n) => n.sequence));
      expect(await after(seqs[2]!)).toEqual(seqs.slice(3));
      expect(await after('0', seqs[5])).toEqual(seqs.slice(0, 6));
      expect(await after(seqs[2]!, seqs[5])).toEqual(seqs.slice(3, 6));
      // Positions between events work too: a later n of the same millisecond, a millisecond with none.
      expect(await after(`${base + 2000}-1`)).toEqual(seqs.slice(5));
      expect(await after(`${base + 2500}-0`)).toEqual(seqs.slice(6));
      expect(await after('0', `${base + 2000}-1`)).toEqual(seqs.slice(0, 5));
      expect(await after('0', `${base + 1999}-99`)).toEqual(seqs.slice(0, 3));
      expect(await after('0', `${base - 1}-0`)).toEqual([]);
      // first and until together: the page stops at until, and says whether more remain before it.
      const limited = await page(id, { first: 2, until: seqs[5] });
      expect(limited.nodes.map((n) => n.sequence)).toEqual(seqs.slice(0, 2));
      expect(limited.pageInfo.hasNextPage).toBe(true);
      const tail = await page(id, { since: seqs[3], first: 2, until: seqs[5] });
      expect(tail.nodes.map((n) => n.sequence)).toEqual(seqs.slice(4, 6));
      expect(tail.pageInfo.hasNextPage).toBe(false);
      expect((await page(id, { until: seqs[5] })).totalCount).toBe(6);

      const none = await page(id, { since: seqs[8] });
      expect(none).toMatchObject({ edges: [], nodes: [], pageInfo: { hasNextPage: false, startCursor: null, endCursor: null } });
    });

    it('refuses first above the cap or negative; accepts the cap', async () => {
      expect(codesOf(await gateway.execute(ProjectEventPageDocument, { id, first: 1001 }, admin))).toEqual(['BAD_USER_INPUT']);
      expect(codesOf(await gateway.execute(ProjectEventPageDocument, { id, first: -1 }, admin))).toEqual(['BAD_USER_INPUT']);
      expect((await page(id, { first: 1000 })).nodes).toHaveLength(9);
    });

    it('defaults first to 50', async () => {
      const big = 'pe-pages-default';
      const start = Date.UTC(2024, 5, 2);
      await importEvents(big, Array.from({ length: 60 }, (_, i) => published(start + i, 0, 'k', i)));
      const first = await page(big);
      expect(first.nodes).toHaveLength(50);
      expect(first.pageInfo.hasNextPage).toBe(true);
      expect(first.totalCount).toBe(60);
      expect((await page(big, { since: first.pageInfo.endCursor! })).nodes.map((n) => n.sequence)).toEqual(
        Array.from({ length: 10 }, (_, i) => `${start + 50 + i}-0`),
      );
    });
  });

  describe('stateAt', () => {
    it('answers the latest value of every key at a sequence, at a time, and now; [] before the first event', async () => {
      const id = 'pe-state';
      const t0 = Date.UTC(2024, 2, 3, 4, 5, 6, 7);
      const events = [
        published(t0, 0, 'alpha', { v: 1 }, 'first alpha'),
        published(t0 + 1000, 0, 'beta', [1, 2]),
        published(t0 + 2000, 0, 'alpha', { v: 2 }, 'second alpha'),
        agentEvent(t0 + 2000, 1, 'agent-a'),
        published(t0 + 3000, 0, 'gamma', 'g'),
        published(t0 + 3000, 1, 'beta', false, 'cleared'),
      ];
      await importEvents(id, events);
      const upTo = (count: number) => modelState(events.slice(0, count));

      const now = await stateAt(id);
      expect(now).toEqual(upTo(6));
      expect(now.map((d) => d.dataKey)).toEqual(['alpha', 'beta', 'gamma']);
      expect(now[2]).toEqual({ dataKey: 'gamma', data: 'g', description: null, sequence: `${t0 + 3000}-0`, updatedAt: iso(t0 + 3000) });
      expect(now[1]).toMatchObject({ data: false, description: 'cleared' });

      // By sequence, up to and including it.
      expect(await stateAt(id, { sequence: events[0]!.sequence })).toEqual(upTo(1));
      expect(await stateAt(id, { sequence: events[2]!.sequence })).toEqual(upTo(3));
      expect(await stateAt(id, { sequence: events[3]!.sequence })).toEqual(upTo(3));
      expect(await stateAt(id, { sequence: events[4]!.sequence })).toEqual(upTo(5));
      expect(await stateAt(id, { sequence: `${t0 + 1500}-0` })).toEqual(upTo(2));
      expect(await stateAt(id, { sequence: `${t0 + 10 * DAY}-0` })).toEqual(upTo(6));
      // By time: everything at or before that moment.
      expect(await stateAt(id, { at: iso(t0) })).toEqual(upTo(1));
      expect(await stateAt(id, { at: iso(t0 + 1999) })).toEqual(upTo(2));
      expect(await stateAt(id, { at: iso(t0 + 2000) })).toEqual(upTo(4));
      expect(await stateAt(id, { at: iso(t0 + 2999) })).toEqual(upTo(4));
      expect(await stateAt(id, { at: iso(t0 + 3000) })).toEqual(upTo(6));
      expect(await stateAt(id, { at: iso(Date.now() + DAY) })).toEqual(upTo(6));
      // Before the first event there is nothing.
      expect(await stateAt(id, { at: iso(t0 - 1) })).toEqual([]);
      expect(await stateAt(id, { sequence: `${t0 - 1}-5` })).toEqual([]);
      expect(await stateAt(id, { sequence: '0' })).toEqual([]);

      // Published events join the imported history.
      const live = await publish(id, 'beta', { back: true });
      expect(await stateAt(id)).toEqual([
        upTo(6)[0],
        { dataKey: 'beta', data: { back: true }, description: null, sequence: live.sequence, updatedAt: live.timestamp },
        upTo(6)[2],
      ]);
      expect(await stateAt(id, { sequence: events[5]!.sequence })).toEqual(upTo(6));

      expect(codesOf(await gateway.execute(StateAtDocument, { id, at: iso(t0), sequence: events[0]!.sequence }, admin))).toEqual(['BAD_USER_INPUT']);
    });

    it('matches a model at many points of a 1,200-event stream (across several snapshots)', async () => {
      const id = 'pe-long';
      const random = seededRandom(20240601);
      const keys = ['alpha', 'beta', 'delta', 'epsilon', 'eta', 'gamma', 'zeta'];
      const base = Date.UTC(2024, 4, 1);
      const events: StreamEventInput[] = [];
      for (let i = 0; i < 1200; i += 1) {
        // Four events per millisecond step (n = 0..3), so same-millisecond ordering matters throughout.
        const ms = base + Math.floor(i / 4) * 1000;
        const n = i % 4;
        if (i % 97 === 50) {
          events.push(agentEvent(ms, n, `agent-${i}`));
          continue;
        }
        // 'eta' is written only early on, so late states must still carry its old value.
        const pool = i < 100 ? keys : keys.filter((k) => k !== 'eta');
        const key = pool[Math.floor(random() * pool.length)]!;
        events.push(published(ms, n, key, { i, key, nested: { at: ms } }, i % 5 === 0 ? null : `${key} #${i % 3}`));
      }
      const first = await importEvents(id, events.slice(0, 1000));
      const second = await importEvents(id, events.slice(1000));
      expect(first).toEqual({ importedCount: 1000, skippedCount: 0, lastSequence: events[999]!.sequence });
      expect(second).toEqual({ importedCount: 200, skippedCount: 0, lastSequence: events[1199]!.sequence });
      expect(await project(id)).toEqual({ id, eventCount: 1200, lastSequence: events[1199]!.sequence });
      expect((await allEvents(id)).map((e) => e.sequence)).toEqual(events.map((e) => e.sequence));

      const points = [0, 1, 2, 3, 4, 49, 50, 51, 99, 100, 101, 127, 199, 200, 201, 255, 256, 299, 300, 301, 399, 400, 401, 499, 500, 501];
      for (let i = 523; i < 1200; i += 41) points.push(i);
      points.push(998, 999, 1000, 1001, 1198, 1199);
      const check = async (k: number) => {
        const event = events[k]!;
        const ms = seqKey(event.sequence)[0];
        const throughGroup = events.filter((e) => seqKey(e.sequence)[0] <= ms);
        const [bySequence, byTime, byTimeBetween] = await Promise.all([
          stateAt(id, { sequence: event.sequence }),
          stateAt(id, { at: iso(ms) }),
          stateAt(id, { at: iso(ms + 500) }),
        ]);
        expect(bySequence, `stateAt(sequence: ${event.sequence}) [#${k}]`).toEqual(modelState(events.slice(0, k + 1)));
        expect(byTime, `stateAt(at: ${iso(ms)}) [#${k}]`).toEqual(modelState(throughGroup));
        expect(byTimeBetween, `stateAt(at: ${iso(ms + 500)}) [#${k}]`).toEqual(modelState(throughGroup));
      };
      // A few points at a time: bounded load, still quick.
      for (let i = 0; i < points.length; i += 6) await Promise.all(points.slice(i, i + 6).map(check));
      expect(await stateAt(id)).toEqual(modelState(events));
      expect((await stateAt(id)).find((d) => d.dataKey === 'eta')).toBeDefined();

      // topKeys agrees with the model too.
      const counts = new Map<string, number>();
      for (const e of events) if (e.eventType === 'data_published') counts.set(e.data.dataKey, (counts.get(e.data.dataKey) ?? 0) + 1);
      const expected = [...counts].map(([dataKey, count]) => ({ dataKey, count })).sort((a, b) => b.count - a.count || (a.dataKey < b.dataKey ? -1 : 1));
      expect(await topKeys(id, 100)).toEqual(expected);
    });
  });

  describe('topKeys', () => {
    it('orders the most updated keys first, ties by dataKey, within limit 1..100', async () => {
      const id = 'pe-top';
      const writes = ['c', 'a', 'b', 'c', 'e', 'a', 'c', 'b', 'd', 'c', 'g', 'a', 'e', 'b', 'c', 'f'];
      for (const [i, key] of writes.entries()) await publish(id, key, i);
      // Agent registrations are not data updates.
      await register(id, 'agent-top', ['c']);
      expect(await topKeys(id)).toEqual([
        { dataKey: 'c', count: 5 },
        { dataKey: 'a', count: 3 },
        { dataKey: 'b', count: 3 },
        { dataKey: 'e', count: 2 },
        { dataKey: 'd', count: 1 },
      ]);
      expect(await topKeys(id, 2)).toEqual([
        { dataKey: 'c', count: 5 },
        { dataKey: 'a', count: 3 },
      ]);
      expect(await topKeys(id, 1)).toEqual([{ dataKey: 'c', count: 5 }]);
      expect((await topKeys(id, 100)).map((k) => `${k.dataKey}${k.count}`)).toEqual(['c5', 'a3', 'b3', 'e2', 'd1', 'f1', 'g1']);
      for (const limit of [0, -1, 101]) {
        expect(codesOf(await gateway.execute(TopKeysDocument, { id, limit }, admin)), String(limit)).toEqual(['BAD_USER_INPUT']);
      }
    });
  });

  describe('updatesByHour', () => {
    it('counts data_published events per UTC hour, zeros included; defaults to the last 24 hours', async () => {
      const id = 'pe-hours';
      const hourOf = (ms: number) => Math.floor(ms / HOUR) * HOUR;
      const H = hourOf(Date.now());
      const events = [
        published(H - 5 * HOUR + 10 * MINUTE, 0, 'k', 1),
        published(H - 5 * HOUR + 10 * MINUTE, 1, 'k', 2),
        published(H - 4 * HOUR - 1, 0, 'k', 3),
        agentEvent(H - 4 * HOUR + 30 * MINUTE, 0, 'agent-hours'),
        published(H - 3 * HOUR, 0, 'k', 4),
        published(H - 3 * HOUR + 1, 0, 'j', 5),
        published(H - 3 * HOUR + 59 * MINUTE, 0, 'k', 6),
        published(H - 2 * HOUR + 30 * MINUTE, 0, 'k', 7),
      ];
      await importEvents(id, events);
      const hours = async (from?: string, to?: string) => dataOf(await gateway.execute(UpdatesByHourDocument, { id, from, to }, admin)).project!.updatesByHour;

      expect(await hours(iso(H - 6 * HOUR), iso(H - HOUR - 1))).toEqual([
        { hour: iso(H - 6 * HOUR), count: 0 },
        { hour: iso(H - 5 * HOUR), count: 3 },
        { hour: iso(H - 4 * HOUR), count: 0 },
        { hour: iso(H - 3 * HOUR), count: 3 },
        { hour: iso(H - 2 * HOUR), count: 1 },
      ]);
      // A one-hour window is one row.
      expect(await hours(iso(H - 3 * HOUR), iso(H - 2 * HOUR - 1))).toEqual([{ hour: iso(H - 3 * HOUR), count: 3 }]);

      // Default: the last 24 hours, one row per hour up to the current one.
      const beforeHour = hourOf(Date.now());
      const recent = await hours();
      const afterHour = hourOf(Date.now());
      expect(recent.length === 24 || recent.length === 25, String(recent.length)).toBe(true);
      expect([beforeHour, afterHour]).toContain(Date.parse(recent.at(-1)!.hour));
      for (const [i, row] of recent.entries()) {
        expect(row.hour).toMatch(ISO_MS);
        expect(Date.parse(row.hour) % HOUR).toBe(0);
        if (i > 0) expect(Date.parse(row.hour) - Date.parse(recent[i - 1]!.hour)).toBe(HOUR);
      }
      expect(recent.reduce((sum, row) => sum + row.count, 0)).toBe(7);
      expect(recent.find((row) => row.hour === iso(H - 3 * HOUR))?.count).toBe(3);

      // 31 days is the widest range; one hour more is refused.
      expect(await hours(iso(H - 31 * DAY), iso(H - 1))).toHaveLength(31 * 24);
      // Exactly 31 days, not on hour boundaries: allowed, and it touches 745 hours.
      const unaligned = await hours(iso(H - 31 * DAY + 30 * MINUTE), iso(H + 30 * MINUTE));
      expect(unaligned).toHaveLength(31 * 24 + 1);
      expect(unaligned[0]?.hour).toBe(iso(H - 31 * DAY));
      const refused = async (from: string, to: string) => codesOf(await gateway.execute(UpdatesByHourDocument, { id, from, to }, admin));
      expect(await refused(iso(H - 31 * DAY - HOUR), iso(H))).toEqual(['BAD_USER_INPUT']);
      expect(await refused(iso(H - 400 * DAY), iso(H))).toEqual(['BAD_USER_INPUT']);
      expect(await refused(iso(H), iso(H - HOUR))).toEqual(['BAD_USER_INPUT']);
    });
  });

  describe('registerAgent', () => {
    const id = 'pe-agents';
    const sent: Record<string, StreamEventFieldsFragment> = {};
    let s1 = '';

    beforeAll(async () => {
      s1 = (await publish(id, 'api_config', { v: 1 }, 'API configuration and endpoints')).sequence;
      sent.configuration = await publish(id, 'configuration', { global: true });
      sent.pool = await publish(id, 'db-connection_pool', { size: 10 }, 'Database pool sizes');
      sent.deploy = await publish(id, 'deploy_log', ['v1'], 'Release notes for the API');
      sent.apiary = await publish(id, 'apiary', { bees: 3 });
      sent.flags = await publish(id, 'Feature-Flags', { dark: true }, 'Toggles');
      sent.api = await publish(id, 'api_config', { v: 2 }, 'API configuration and endpoints');
    });

    const keysOf = (items: { dataKey: string }[]) => items.map((d) => d.dataKey).sort();

    it('matches needs to keys and descriptions by whole words, ignoring case and separators', async () => {
      const cases: [string[], string[]][] = [
        [['api config'], ['api_config']],
        [['API_Config'], ['api_config']],
        [['API-CONFIG'], ['api_config']],
        [['config api'], ['api_config']],
        [['config'], ['api_config']],
        [['configuration'], ['api_config', 'configuration']],
        [['api'], ['api_config', 'deploy_log']],
        [['pool'], ['db-connection_pool']],
        [['Database Pool'], ['db-connection_pool']],
        [['release api'], ['deploy_log']],
        [['feature flags'], ['Feature-Flags']],
        [['FEATURE_FLAGS'], ['Feature-Flags']],
        [['toggles'], ['Feature-Flags']],
        [['flag'], []],
        [['apia'], []],
        [['nothing matches'], []],
        [['pool', 'config'], ['api_config', 'db-connection_pool']],
        [['api', 'nothing'], ['api_config', 'deploy_log']],
      ];
      const current = new Map((await stateAt(id)).map((d) => [d.dataKey, d]));
      for (const [i, [needs, keys]] of cases.entries()) {
        const registration = await register(id, `agent-match-${i}`, needs);
        expect(registration.agentId).toBe(`agent-match-${i}`);
        expect(keysOf(registration.matchedData), JSON.stringify(needs)).toEqual(keys);
        // Each match is the key's latest value, exactly as stateAt reports it.
        for (const item of registration.matchedData) expect(item).toEqual(current.get(item.dataKey));
      }
      const api = (await register(id, 'agent-latest', ['api config'])).matchedData[0];
      expect(api).toEqual({
        dataKey: 'api_config',
        data: { v: 2 },
        description: 'API configuration and endpoints',
        sequence: sent.api!.sequence,
        updatedAt: sent.api!.timestamp,
      });
    });

    it('returns only keys whose latest value was published after lastSeenSequence', async () => {
      const needs = ['api', 'configuration', 'pool'];
      expect(keysOf((await register(id, 'agent-since-0', needs, '0')).matchedData)).toEqual(['api_config', 'configuration', 'db-connection_pool', 'deploy_log']);
      // Strictly after: the pool's own sequence excludes it; api_config was updated again later, so it is in.
      expect(keysOf((await register(id, 'agent-since-pool', needs, sent.pool!.sequence)).matchedData)).toEqual(['api_config', 'deploy_log']);
      expect(keysOf((await register(id, 'agent-since-s1', ['config'], s1)).matchedData)).toEqual(['api_config']);
      expect((await register(id, 'agent-since-s1', ['config'], s1)).matchedData[0]?.data).toEqual({ v: 2 });
      expect((await register(id, 'agent-up-to-date', needs, sent.api!.sequence)).matchedData).toEqual([]);
      const last = (await project(id))!.lastSequence!;
      expect((await register(id, 'agent-latest-seen', needs, last)).matchedData).toEqual([]);
    });

    it('appends an agent_registered event whose sequence is caughtUpTo', async () => {
      const before = (await project(id))!;
      const stateBefore = await stateAt(id);
      const topBefore = await topKeys(id, 100);
      const registration = await register(id, 'agent-event', ['api', 'Pool'], sent.deploy!.sequence);
      expect(keysOf(registration.matchedData)).toEqual(['api_config']);
      expect(compareSeq(before.lastSequence!, registration.caughtUpTo!)).toBeLessThan(0);

      const after = (await project(id))!;
      expect(after).toEqual({ id, eventCount: before.eventCount + 1, lastSequence: registration.caughtUpTo });
      const [event, ...more] = (await page(id, { since: before.lastSequence! })).edges.map((e) => e.node);
      expect(more).toEqual([]);
      expect(event).toMatchObject({ sequence: registration.caughtUpTo, projectId: id, eventType: 'agent_registered' });
      expect(event!.timestamp).toMatch(ISO_MS);
      expect(event!.data).toMatchObject({ agentId: 'agent-event', dataNeeds: ['api', 'Pool'], lastSeenSequence: sent.deploy!.sequence });
      expect([...event!.data.matchedKeys].sort()).toEqual(['api_config']);

      // The default lastSeenSequence is "0", recorded as such.
      const fresh = await register(id, 'agent-default', ['toggles']);
      const recorded = (await page(id, { since: registration.caughtUpTo! })).nodes;
      expect(recorded.map((n) => n.sequence)).toEqual([fresh.caughtUpTo]);
      const [freshEvent] = (await page(id, { since: registration.caughtUpTo! })).edges.map((e) => e.node);
      expect(freshEvent!.data).toMatchObject({ agentId: 'agent-default', dataNeeds: ['toggles'], lastSeenSequence: '0', matchedKeys: ['Feature-Flags'] });

      // Registrations are not data: state and counts are unchanged.
      expect(await stateAt(id)).toEqual(stateBefore);
      expect(await topKeys(id, 100)).toEqual(topBefore);
    });

    it('answers matchedData exactly as of caughtUpTo while others publish concurrently', async () => {
      const race = 'pe-agents-race';
      const keys = ['needed_a', 'needed_b', 'other'];
      for (const key of keys) await publish(race, key, { start: true });
      // Three publishers and four agents that each re-register five times, carrying caughtUpTo forward as their
      // next lastSeenSequence, as a real agent would: any update that lands between the two is needed exactly once.
      const publishers = Array.from({ length: 3 }, async (_, p) => {
        for (let i = 0; i < 30; i += 1) await publish(race, keys[(i + p) % 3]!, { p, i });
      });
      const agents = Array.from({ length: 4 }, async (_, a) => {
        const rounds = [];
        let lastSeen = '0';
        for (let i = 0; i < 5; i += 1) {
          const registration = await register(race, `racer-${a}`, ['needed'], lastSeen);
          rounds.push({ lastSeen, registration });
          lastSeen = registration.caughtUpTo!;
        }
        return rounds;
      });
      await Promise.all(publishers);
      for (const { lastSeen, registration } of (await Promise.all(agents)).flat()) {
        const asOf = await stateAt(race, { sequence: registration.caughtUpTo! });
        const expected = asOf.filter((d) => d.dataKey.startsWith('needed') && (lastSeen === '0' || compareSeq(d.sequence, lastSeen) > 0));
        const got = [...registration.matchedData].sort((x, y) => (x.dataKey < y.dataKey ? -1 : 1));
        expect(got, `registration at ${registration.caughtUpTo} after ${lastSeen}`).toEqual(expected);
      }
    });

    it('answers a retried clientEventId with the first registration and appends nothing, also when retries race', async () => {
      const id = 'pe-agents-idempotent';
      await publish(id, 'api_config', { v: 1 });
      const first = await register(id, 'agent-retry', ['api'], '0', 'register-1');
      expect(first.matchedData.map((d) => d.data)).toEqual([{ v: 1 }]);
      expect((await project(id))?.eventCount).toBe(2);

      // The stream moves on; a retry still answers exactly the first catch-up and position, and writes nothing.
      await publish(id, 'api_config', { v: 2 });
      expect(await register(id, 'agent-retry', ['api'], '0', 'register-1')).toEqual(first);
      expect((await project(id))?.eventCount).toBe(3);

      const raced = await Promise.all(Array.from({ length: 8 }, () => register(id, 'agent-race', ['api'], '0', 'register-2')));
      for (const registration of raced) expect(registration).toEqual(raced[0]);
      expect(raced[0]!.matchedData.map((d) => d.data)).toEqual([{ v: 2 }]);
      expect(compareSeq(first.caughtUpTo!, raced[0]!.caughtUpTo!)).toBeLessThan(0);
      const stored = await allEvents(id);
      expect(stored.filter((e) => e.eventType === 'agent_registered').map((e) => e.sequence)).toEqual([first.caughtUpTo, raced[0]!.caughtUpTo]);

      // Without a key every call registers again; a malformed key is refused and writes nothing.
      await register(id, 'agent-retry', ['api']);
      await register(id, 'agent-retry', ['api']);
      expect((await project(id))?.eventCount).toBe(6);
      const bad = await gateway.execute(RegisterAgentDocument, { projectId: id, agentId: 'a', dataNeeds: ['api'], clientEventId: ' ' }, ingest);
      expect(codesOf(bad)).toEqual(['BAD_USER_INPUT']);
      expect((await project(id))?.eventCount).toBe(6);
    });

    it('registers on a project without events: nothing matched, the registration is its first event', async () => {
      const registration = await register('pe-agents-empty', 'agent-alone', ['anything']);
      expect(registration.matchedData).toEqual([]);
      expect(await project('pe-agents-empty')).toEqual({ id: 'pe-agents-empty', eventCount: 1, lastSequence: registration.caughtUpTo });
    });
  });

  describe('importEvents', () => {
    it('keeps sequences, skips what is already there, refuses rewriting history, disorder and more than 1000', async () => {
      const id = 'pe-import';
      const base = Date.UTC(2024, 6, 1);
      const e = (i: number, n = 0) => published(base + i * 1000, n, `k${i % 2}`, { i }, i === 0 ? 'first' : null);
      const initial = [e(0), e(1), e(2)];
      expect(await importEvents(id, initial)).toEqual({ importedCount: 3, skippedCount: 0, lastSequence: e(2).sequence });
      const stored = await allEvents(id);
      expect(stored).toEqual(initial.map((x) => ({ ...x, projectId: id })));

      // Re-importing is a no-op.
      const again = await importEvents(id, initial);
      expect(again).toMatchObject({ importedCount: 0, skippedCount: 3 });
      expect(await allEvents(id)).toEqual(stored);
      // Overlap: the known ones are skipped, the new one appended.
      expect(await importEvents(id, [e(1), e(2), e(3)])).toEqual({ importedCount: 1, skippedCount: 2, lastSequence: e(3).sequence });
      expect(await project(id)).toEqual({ id, eventCount: 4, lastSequence: e(3).sequence });

      const count = async () => (await project(id))!.eventCount;
      const codes = async (events: StreamEventInput[], token = ingest) => codesOf(await gateway.execute(ImportEventsDocument, { projectId: id, events }, token));
      // An unknown event before the last one would rewrite history, wherever it sits in the batch, and nothing of that call is written.
      expect(await codes([e(1, 1)])).toEqual(['CONFLICT']);
      expect(await codes([e(1, 1), e(4)])).toEqual(['CONFLICT']);
      expect(await codes([e(0), e(2, 5), e(4)])).toEqual(['CONFLICT']);
      expect(await codes([published(base - 1000, 0, 'k0', 'older')])).toEqual(['CONFLICT']);
      expect(await count()).toBe(4);
      // Within one call, strictly increasing order.
      expect(await codes([e(5), e(4)])).toEqual(['BAD_USER_INPUT']);
      expect(await codes([e(4), e(4)])).toEqual(['BAD_USER_INPUT']);
      expect(await codes([e(4, 2), e(4, 10), e(4, 3)])).toEqual(['BAD_USER_INPUT']);
      // At most 1000 per call.
      expect(await codes(Array.from({ length: 1001 }, (_, i) => published(base + 10_000 + i, 0, 'k', i)))).toEqual(['BAD_USER_INPUT']);
      // A data_published event must name its key.
      expect(await codes([{ sequence: `${base + 9000}-0`, eventType: 'data_published', timestamp: iso(base + 9000), data: { data: 1 } }])).toEqual(['BAD_USER_INPUT']);
      expect(await count()).toBe(4);

      // Imported events count like published ones; a publish goes after them.
      expect(await stateAt(id)).toEqual(modelState([e(0), e(1), e(2), e(3)]));
      expect(await topKeys(id)).toEqual([
        { dataKey: 'k0', count: 2 },
        { dataKey: 'k1', count: 2 },
      ]);
      const live = await publish(id, 'k1', 'live');
      expect(compareSeq(e(3).sequence, live.sequence)).toBeLessThan(0);
      expect(await codes([e(4)])).toEqual(['CONFLICT']);
    });

    it('refuses events more than 60 s ahead of the server clock, which would hold every later publish in the future', async () => {
      const id = 'pe-import-future';
      const codes = async (events: StreamEventInput[]) => codesOf(await gateway.execute(ImportEventsDocument, { projectId: id, events }, ingest));
      const now = Date.now();
      expect(await codes([published(now + 2 * MINUTE, 0, 'k', 'later')])).toEqual(['BAD_USER_INPUT']);
      expect(await codes([published(now + DAY, 0, 'k', 'tomorrow')])).toEqual(['BAD_USER_INPUT']);
      // Anywhere in the batch, and nothing of that batch is written.
      expect(await codes([published(now - MINUTE, 0, 'k', 'past'), published(now + HOUR, 0, 'k', 'later')])).toEqual(['BAD_USER_INPUT']);
      expect(await project(id)).toBeNull();

      // Within the margin (clocks of two hosts differ a little) it is accepted, and publishing goes on after it.
      const near = now + 30 * SECOND;
      expect(await importEvents(id, [published(now - MINUTE, 0, 'k', 'past'), published(near, 0, 'k', 'near')])).toMatchObject({ importedCount: 2 });
      const next = await publish(id, 'k', 'live');
      expect(compareSeq(`${near}-0`, next.sequence)).toBeLessThan(0);
    });

    it('timestamps an event imported without one at its sequence’s millisecond', async () => {
      const id = 'pe-import-untimed';
      const ms = Date.UTC(2024, 7, 1, 10, 20, 30, 456);
      await importEvents(id, [{ sequence: `${ms}-3`, eventType: 'data_published', data: { dataKey: 'k', data: 1, description: null } }]);
      expect((await allEvents(id))[0]?.timestamp).toBe(iso(ms));
    });

    it('never accepts an import that later breaks reads (data_published with a null or missing value)', async () => {
      const base = Date.UTC(2024, 8, 1);
      const cases: [string, unknown][] = [
        ['null', { dataKey: 'k', data: null, description: null }],
        ['missing', { dataKey: 'k', description: 'no value' }],
      ];
      for (const [name, data] of cases) {
        const id = `pe-import-${name}`;
        const result = await gateway.execute(ImportEventsDocument, { projectId: id, events: [{ sequence: `${base}-0`, eventType: 'data_published', timestamp: iso(base), data }] }, ingest);
        // Refused as bad input, or accepted and then readable like any other event: never an internal error later.
        if (result.errors) {
          expect(codesOf(result), name).toEqual(['BAD_USER_INPUT']);
          continue;
        }
        for (const read of await Promise.all([
          gateway.execute(StateAtDocument, { id }, admin),
          gateway.execute(StateAtDocument, { id, sequence: `${base}-0` }, admin),
          gateway.execute(RegisterAgentDocument, { projectId: id, agentId: 'reader', dataNeeds: ['k'] }, ingest),
        ])) {
          expect(read.errors, name).toBeUndefined();
        }
      }
    });
  });

  describe('access', () => {
    const id = 'pe-access';
    let sequence = '';

    beforeAll(async () => {
      sequence = (await publish(id, 'secret', { s: 1 }, 'top secret')).sequence;
      await publish('pe-access-other', 'k', 1);
    });

    const reads = (token: string | null) => [
      gateway.execute(ProjectDocument, { id }, token),
      gateway.execute(ProjectEventPageDocument, { id }, token),
      gateway.execute(StateAtDocument, { id }, token),
      gateway.execute(TopKeysDocument, { id }, token),
      gateway.execute(UpdatesByHourDocument, { id }, token),
    ];
    // Imported sequences ahead of the publishes racing them, yet within the 60 s an import may be ahead of the clock.
    let ahead = Date.now() + 20 * SECOND;
    const writes = (token: string | null, tag: string) => [
      gateway.execute(PublishDataDocument, { projectId: id, dataKey: 'w', data: tag }, token),
      gateway.execute(RegisterAgentDocument, { projectId: id, agentId: tag, dataNeeds: ['secret'] }, token),
      gateway.execute(ImportEventsDocument, { projectId: id, events: [published((ahead += 1000), 0, 'w', tag)] }, token),
    ];

    it('lets admin, ingest and tokens naming the project (or "*") read it, and no one else', async () => {
      const readers = {
        admin,
        ingest,
        named: await gateway.token({ sub: 'pa-named', projects: ['pe-access'] }),
        star: await gateway.token({ sub: 'pa-star', projects: '*' }),
      };
      for (const [who, token] of Object.entries(readers)) {
        for (const result of await Promise.all(reads(token))) {
          expect(result.errors, who).toBeUndefined();
          expect(result.data?.project, who).toMatchObject({ id });
        }
        expect(dataOf(await gateway.execute(StateAtDocument, { id }, token)).project!.stateAt[0]).toMatchObject({ dataKey: 'secret', sequence });
      }
      const refused = {
        other: await gateway.token({ sub: 'pa-other', projects: ['pe-access-other'] }),
        none: await gateway.token({ sub: 'pa-none' }),
        // Roles and claims are exact: a look-alike project id does not count.
        prefix: await gateway.token({ sub: 'pa-prefix', projects: ['pe-acc', 'PE-ACCESS'] }),
      };
      for (const [who, token] of Object.entries(refused)) {
        for (const result of await Promise.all(reads(token))) {
          expect(codesOf(result), who).toEqual(['FORBIDDEN']);
          expect(result.data?.project ?? null, who).toBeNull();
        }
      }
      const expired = await gateway.token({ sub: 'pa-expired', roles: ['admin'], expiresIn: -60 });
      for (const token of [null, expired, 'not-a-jwt']) {
        for (const result of await Promise.all(reads(token))) expect(codesOf(result), String(token)).toEqual(['UNAUTHENTICATED']);
      }
      // A reader of a project that has no events yet gets null, not an error.
      const empty = await gateway.token({ sub: 'pa-empty', projects: ['pe-access-empty'] });
      const result = await gateway.execute(ProjectDocument, { id: 'pe-access-empty' }, empty);
      expect(result.errors).toBeUndefined();
      expect(result.data?.project).toBeNull();
    });

    it('lets only ingest and admin write; readers and others get FORBIDDEN and write nothing', async () => {
      const before = (await project(id))!;
      const refused = {
        named: await gateway.token({ sub: 'pw-named', projects: ['pe-access'] }),
        star: await gateway.token({ sub: 'pw-star', projects: '*' }),
        other: await gateway.token({ sub: 'pw-other', projects: ['pe-access-other'] }),
      };
      for (const [who, token] of Object.entries(refused)) {
        for (const result of await Promise.all(writes(token, who))) expect(codesOf(result), who).toEqual(['FORBIDDEN']);
      }
      for (const result of await Promise.all(writes(null, 'anonymous'))) expect(codesOf(result)).toEqual(['UNAUTHENTICATED']);
      expect(await project(id)).toEqual(before);
      // Writing to a new project is refused the same way, and does not create it.
      expect(codesOf(await gateway.execute(PublishDataDocument, { projectId: 'pe-access-new', dataKey: 'k', data: 1 }, refused.star))).toEqual(['FORBIDDEN']);
      expect(await project('pe-access-new')).toBeNull();

      for (const [who, token] of Object.entries({ admin, ingest })) {
        for (const result of await Promise.all(writes(token, who))) expect(result.errors, who).toBeUndefined();
      }
      expect((await project(id))!.eventCount).toBe(before.eventCount + 6);
    });
  });

  describe('malformed sequences', () => {
    it('are BAD_USER_INPUT in since, until, stateAt, lastSeenSequence and imports, and change nothing', async () => {
      const id = 'pe-malformed';
      await publish(id, 'k', 1);
      const before = (await project(id))!;
      for (const bad of MALFORMED) {
        const results = await Promise.all([
          gateway.execute(ProjectEventPageDocument, { id, since: bad }, admin),
          gateway.execute(ProjectEventPageDocument, { id, until: bad }, admin),
          gateway.execute(StateAtDocument, { id, sequence: bad }, admin),
          gateway.execute(RegisterAgentDocument, { projectId: id, agentId: 'a', dataNeeds: ['k'], lastSeenSequence: bad }, ingest),
          gateway.execute(ImportEventsDocument, { projectId: id, events: [{ sequence: bad, eventType: 'data_published', data: { dataKey: 'k', data: 2, description: null } }] }, ingest),
        ]);
        // Soft: one run reports every place that accepts a bad sequence.
        for (const [i, result] of results.entries()) expect.soft(codesOf(result), `${JSON.stringify(bad)} in ${['since', 'until', 'stateAt', 'lastSeenSequence', 'import'][i]}`).toEqual(['BAD_USER_INPUT']);
      }
      expect(await project(id)).toEqual(before);
    });
  });
});

/** Below the API: the services and the store on a database of their own, for what a client cannot observe. */
describe('project streams, the services and store directly', () => {
  let store: Awaited<ReturnType<typeof freshDatabase>>;
  let database: Database;
  let services: Services;
  const admin: Viewer = { personId: 'store-admin', roles: new Set(['admin', 'ingest']), projects: '*', expiresAt: null };

  beforeAll(async () => {
    store = await freshDatabase();
    const config = loadConfig({ DATABASE_URL: store.url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    database = await openDatabase(config.store);
    services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => new Date() });
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  it('never shows reads an event another request has written but not committed', async () => {
    const id = 'store-uncommitted';
    const ms = Date.UTC(2024, 9, 1, 12);
    const at = new Date(ms);
    const reads = async () => ({
      project: await services.project(admin, id),
      projects: (await services.projects(admin, { first: 1000 })).edges.map((e) => e.node.id),
      events: (await services.events(admin, id, {})).edges.map((e) => e.cursor),
      count: await (await services.events(admin, id, {})).totalCount(),
      now: (await services.stateAt(admin, id, {})).map((d) => d.data),
      asOf: (await services.stateAt(admin, id, { sequence: `${ms}-0` })).map((d) => d.data),
      top: await services.topKeys(admin, id, 5),
      hours: (await services.updatesByHour(admin, id, { from: new Date(ms - HOUR), to: at })).map((h) => h.count),
      export: await services.exportEvents(admin, id).then(
        () => 'exported',
        (error: AppError) => error.code,
      ),
    });
    const open = await database.db.$transaction(async (tx) => {
      // What a publish writes, left uncommitted while the reads run.
      await lockProject(tx, database.provider, id, at);
      await insertStreamEvents(database.bulk, [
        { projectId: id, ms, n: 0, eventType: 'data_published', dataKey: 'k', data: { dataKey: 'k', data: 1, description: null }, timestamp: at },
      ]);
      await upsertProjectData(database.bulk, id, [{ dataKey: 'k', data: 1, description: null, ms, n: 0, updatedAt: at }]);
      await updateProjectHead(tx, id, { added: 1, last: { ms, n: 0 }, sinceSnapshot: 1 });
      return reads();
    });
    expect(open).toEqual({ project: null, projects: [], events: [], count: 0, now: [], asOf: [], top: [], hours: [0, 0], export: 'NOT_FOUND' });
    // Once committed, every read shows it.
    expect(await reads()).toEqual({
      project: { id, eventCount: 1, lastSequence: `${ms}-0` },
      projects: [id],
      events: [`${ms}-0`],
      count: 1,
      now: [1],
      asOf: [1],
      top: [{ dataKey: 'k', count: 1 }],
      hours: [0, 1],
      export: 'exported',
    });
  });

  it('looks up only the batch’s own sequences, and only those up to the head, whatever lies between', async () => {
    const id = 'store-existing';
    const base = Date.UTC(2024, 10, 1);
    const stored = Array.from({ length: 1000 }, (_, i) => ({ ms: base + i, n: 0 }));
    await services.importEvents(
      admin,
      id,
      stored.map((s) => ({ sequence: `${s.ms}-0`, eventType: 'data_published', data: { dataKey: 'k', data: s.ms, description: null } })),
    );
    const head = stored.at(-1)!;
    const key = (s: { ms: number; n: number }) => `${s.ms}-${s.n}`;

    // A batch spanning the whole history: only its own sequences that are there come back, not the 1000 between.
    const batch = [stored[0]!, { ms: base + 1, n: 1 }, stored[500]!, head, { ms: base + 5000, n: 0 }];
    expect(await existingSequences(database.read, id, batch, head)).toEqual(new Set([key(stored[0]!), key(stored[500]!), key(head)]));
    // Many more than one query's worth of (ms, n) pairs.
    expect(await existingSequences(database.read, id, stored, head)).toEqual(new Set(stored.map(key)));
    // Sequences after the head cannot be there and are not looked up; nothing is before the first event.
    expect(await existingSequences(database.read, id, stored, stored[9]!)).toEqual(new Set(stored.slice(0, 10).map(key)));
    expect(await existingSequences(database.read, id, stored, null)).toEqual(new Set());

    // Through importEvents: an overlapping batch skips exactly the stored ones.
    const overlap = [stored[3]!, stored[998]!, { ms: base + 2000, n: 0 }, { ms: base + 2000, n: 1 }];
    const result = await services.importEvents(
      admin,
      id,
      overlap.map((s) => ({ sequence: key(s), eventType: 'data_published', data: { dataKey: 'k', data: s.ms, description: null } })),
    );
    expect(result).toEqual({ importedCount: 2, skippedCount: 2, lastSequence: `${base + 2000}-1` });
  });
});
