import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const WRITE_THEN_FOLLOW = `mutation ($input: UpdateContextInput!) {
  updateContext(input: $input) { trace { id session { traces(first: 10) { nodes { eventData } } } } }
}`;
const WRITE = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { trace { id } } }`;
const REPLAYS = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { trace { replays { id } } } }`;

// Person isolation holds on nested fields too: an ingest service may write a person's context (and sees the trace
// it wrote), but following the trace into that person's session history or replays is FORBIDDEN.
describe('nested fields keep person isolation', () => {
  let gateway: TestGateway;
  let ingest: string;
  let owner: string;

  beforeAll(async () => {
    gateway = await startGateway();
    ingest = await gateway.token({ sub: 'na-service', roles: ['ingest'] });
    owner = await gateway.token({ sub: 'na-person' });
  });
  afterAll(() => gateway?.close());

  const input = (sessionId: string, secret: string) => ({
    personId: 'na-person',
    sessionId,
    sources: [{ source: 'private', data: { secret } }],
  });

  it('lets ingest write but not read the history behind the trace', async () => {
    dataOf(await gateway.execute(WRITE, { input: input('s1', 'earlier') }, owner));
    const followed = await gateway.execute(WRITE_THEN_FOLLOW, { input: input('s1', 'later') }, ingest);
    expect(codesOf(followed)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(followed)).not.toContain('earlier');

    const replays = await gateway.execute(REPLAYS, { input: input('s1', 'third') }, ingest);
    expect(codesOf(replays)).toEqual(['FORBIDDEN']);
  });

  it('still lets the person follow their own trace into the session', async () => {
    const own = dataOf(await gateway.execute(WRITE_THEN_FOLLOW, { input: input('s2', 'mine') }, owner)) as {
      updateContext: { trace: { session: { traces: { nodes: { eventData: unknown }[] } } } };
    };
    expect(own.updateContext.trace.session.traces.nodes).toHaveLength(1);
  });
});
