import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const PUBLISH = `mutation ($projectId: ID!, $dataKey: String!, $data: JSON!) {
  publishData(projectId: $projectId, dataKey: $dataKey, data: $data) { sequence }
}`;
const EVENTS = `query ($id: ID!) { project(id: $id) { eventCount events(first: 1000) { nodes { sequence data } } } }`;

const order = (sequence: string) => sequence.split('-').map(Number) as [number, number];

// Two gateway processes' worth of servers on one store: sequences are taken inside the write transaction under
// the project lock, so they stay unique and strictly increasing whichever gateway takes them.
describe('two gateways sharing one store', () => {
  let first: TestGateway;
  let second: TestGateway;
  let ingest: string;

  beforeAll(async () => {
    first = await startGateway();
    second = await startGateway({ DATABASE_URL: first.databaseUrl });
    ingest = await first.token({ sub: 'shared-ingest', roles: ['ingest'] });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('hands out strictly increasing sequences to concurrent publishers on both', async () => {
    const perGateway = 40;
    const publish = (gateway: TestGateway, i: number) =>
      gateway.execute(PUBLISH, { projectId: 'shared', dataKey: `k${i % 3}`, data: { from: gateway === first ? 'first' : 'second', i } }, ingest);
    const results = await Promise.all(
      [first, second].flatMap((gateway) => Array.from({ length: perGateway }, (_, i) => publish(gateway, i))),
    );
    const acknowledged = results.map((r) => (dataOf(r) as { publishData: { sequence: string } }).publishData.sequence);
    expect(new Set(acknowledged).size).toBe(2 * perGateway);

    const { project } = dataOf(await second.execute(EVENTS, { id: 'shared' }, ingest)) as {
      project: { eventCount: number; events: { nodes: { sequence: string }[] } };
    };
    expect(project.eventCount).toBe(2 * perGateway);
    const stored = project.events.nodes.map((node) => node.sequence);
    expect([...stored].sort()).toEqual([...acknowledged].sort());
    for (let i = 1; i < stored.length; i += 1) {
      const [ms, n] = order(stored[i]!);
      const [prevMs, prevN] = order(stored[i - 1]!);
      expect(ms > prevMs || (ms === prevMs && n > prevN), `${stored[i - 1]} < ${stored[i]}`).toBe(true);
    }
  });
});
