import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { TracesDocument, UpdateContextDocument } from '../generated/graphql.js';
import { freshDatabase } from '../support/databases.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { spawnGateway, stopProcess } from '../support/process.js';

// Edges of paging traces: a zero-size page still says whether there is anything, and a filter's list is bounded.
describe('trace pages', () => {
  let gateway: TestGateway;
  let token: string;

  beforeAll(async () => {
    gateway = await startGateway();
    token = await gateway.token({ sub: 'tp-person' });
    for (let i = 0; i < 3; i += 1) {
      dataOf(await gateway.execute(UpdateContextDocument, { input: { personId: 'tp-person', sessionId: 's', sources: [{ source: 'a', data: { i } }] } }, token));
    }
  });
  afterAll(() => gateway?.close());

  it('answers first: 0 with no edges, the total, and whether a page exists', async () => {
    const page = dataOf(await gateway.execute(TracesDocument, { filter: { personId: 'tp-person' }, first: 0 }, token)).traces;
    expect(page.edges).toEqual([]);
    expect(page.totalCount).toBe(3);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const none = dataOf(await gateway.execute(TracesDocument, { filter: { personId: 'tp-person', eventTypes: ['none'] }, first: 0 }, token)).traces;
    expect(none.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses a filter naming more than 100 event types', async () => {
    const eventTypes = Array.from({ length: 101 }, (_, i) => `type-${i}`);
    const result = await gateway.execute(TracesDocument, { filter: { personId: 'tp-person', eventTypes } }, token);
    expect(codesOf(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0]?.extensions?.field).toBe('eventTypes');
  });
});

// Times are stored without a zone (UTC); a gateway process in another time zone must read, compare and page by
// them exactly as one in UTC.
describe('trace pages in a process time zone other than UTC', () => {
  it('returns the times written, and pages and filters by them', async () => {
    const database = await freshDatabase();
    const gateway = spawnGateway({ DATABASE_URL: database.url, PORT: '0', LOG_LEVEL: 'warn', TZ: 'Asia/Kolkata' });
    try {
      const url = await gateway.ready;
      const post = async (document: Parameters<typeof print>[0], variables: object) => {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: print(document), variables }) });
        return (await response.json()) as { data?: { traces: { edges: { cursor: string; node: { timestamp: string } }[] } }; errors?: unknown[] };
      };
      const base = Date.parse('2026-11-20T10:00:00.000Z');
      const times = [0, 1, 2].map((i) => new Date(base + i * 3_600_000).toISOString());
      for (const timestamp of times) {
        const written = await post(UpdateContextDocument, { input: { personId: 'tz-person', sessionId: 's', timestamp, sources: [{ source: 'a', data: { timestamp } }] } });
        expect(written.errors).toBeUndefined();
      }
      const page = async (variables: object) => {
        const result = await post(TracesDocument, { filter: { personId: 'tz-person' }, ...variables });
        expect(result.errors).toBeUndefined();
        return result.data!.traces.edges;
      };
      const first = await page({ first: 1 });
      expect(first.map((edge) => edge.node.timestamp)).toEqual([times[2]]);
      const rest = await page({ first: 5, after: first[0]!.cursor });
      expect(rest.map((edge) => edge.node.timestamp)).toEqual([times[1], times[0]]);
      const window = await post(TracesDocument, { filter: { personId: 'tz-person', from: times[1], to: times[1] } });
      expect(window.data!.traces.edges.map((edge) => edge.node.timestamp)).toEqual([times[1]]);
    } finally {
      await stopProcess(gateway);
      await database.drop();
    }
  });
});
