import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const UPDATE = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { trace { id } } }`;
const TRACES = `query { traces(filter: { personId: "rj-person" }) { nodes { id } } }`;
const DAY = 86_400_000;

// The periodic retention job (it also sweeps at start-up): traces older than RETENTION_DAYS go, newer ones stay.
describe('retention job', () => {
  let first: TestGateway;
  let second: TestGateway | undefined;
  let admin: string;

  beforeAll(async () => {
    first = await startGateway();
    admin = await first.token({ sub: 'rj-admin', roles: ['admin'] });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('removes traces older than RETENTION_DAYS when a gateway starts, and keeps the rest', async () => {
    const write = async (sessionId: string, ageDays: number) =>
      (dataOf(
        await first.execute(
          UPDATE,
          { input: { personId: 'rj-person', sessionId, timestamp: new Date(Date.now() - ageDays * DAY).toISOString(), sources: [{ source: 's', data: { ageDays } }] } },
          admin,
        ),
      ) as { updateContext: { trace: { id: string } } }).updateContext.trace.id;
    const old = await write('old', 40);
    const recent = await write('recent', 2);

    // A second gateway on the same store sweeps as it starts.
    second = await startGateway({ DATABASE_URL: first.databaseUrl, RETENTION_DAYS: '30' });
    const ids = async () => (dataOf(await second!.execute(TRACES, {}, admin)) as { traces: { nodes: { id: string }[] } }).traces.nodes.map((n) => n.id);
    await expect.poll(ids, { timeout: 10_000 }).toEqual([recent]);
    expect(await ids()).not.toContain(old);
  });
});
