import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const UPDATE = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { duplicate trace { id } } }`;
const DELETE = `mutation ($id: ID!) { deleteTrace(id: $id) { deletedId } }`;
const CLEANUP = `mutation { cleanupTraces(daysToKeep: 0) { deletedCount } }`;
const COUNT = `query ($personId: ID!) { traces(filter: { personId: $personId }) { totalCount } }`;

// A retry must never write twice, even when the first result has been deleted since: it is a CONFLICT, and a
// cleanup of traces does not expire the keys of retries that may still be in flight.
describe('idempotency keys outlive what they recorded', () => {
  let gateway: TestGateway;
  let admin: string;

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'ik-admin', roles: ['admin'] });
  });
  afterAll(() => gateway?.close());

  const input = (personId: string, clientEventId: string) => ({
    personId,
    sessionId: 's',
    clientEventId,
    sources: [{ source: 'app', data: { n: 1 } }],
  });
  const count = async (personId: string) =>
    (dataOf(await gateway.execute(COUNT, { personId }, admin)) as { traces: { totalCount: number } }).traces.totalCount;

  it('answers CONFLICT for a retry whose trace was deleted, and writes nothing', async () => {
    const first = dataOf(await gateway.execute(UPDATE, { input: input('ik-a', 'evt-1') }, admin)) as { updateContext: { trace: { id: string } } };
    dataOf(await gateway.execute(DELETE, { id: first.updateContext.trace.id }, admin));
    const retry = await gateway.execute(UPDATE, { input: input('ik-a', 'evt-1') }, admin);
    expect(codesOf(retry)).toEqual(['CONFLICT']);
    expect(await count('ik-a')).toBe(0);
  });

  it('keeps keys through cleanupTraces(daysToKeep: 0)', async () => {
    dataOf(await gateway.execute(UPDATE, { input: input('ik-b', 'evt-2') }, admin));
    dataOf(await gateway.execute(CLEANUP, {}, admin));
    const retry = await gateway.execute(UPDATE, { input: input('ik-b', 'evt-2') }, admin);
    expect(codesOf(retry)).toEqual(['CONFLICT']);
    expect(await count('ik-b')).toBe(0);
  });
});
