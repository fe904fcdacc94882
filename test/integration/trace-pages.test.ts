import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TracesDocument, UpdateContextDocument } from '../generated/graphql.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

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
