import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextUpdatedDocument, UpdateContextDocument } from '../generated/graphql.js';
import { sseClient, subscribe, wsClient } from '../support/clients.js';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { redisAvailable, TEST_REDIS_URL } from '../support/redis-availability.js';

const haveRedis = await redisAvailable();
if (!haveRedis) console.log(`Scale-out test skipped: Redis unreachable at ${TEST_REDIS_URL}`);

const PUBLISH = `mutation ($projectId: ID!, $n: Int!) { publishData(projectId: $projectId, dataKey: "k", data: { n: $n }) { sequence } }`;
const PROJECT_EVENTS = parse(
  'subscription ($projectId: ID!, $since: String) { projectEvents(projectId: $projectId, since: $since) { sequence data } }',
) as TypedDocumentNode<{ projectEvents: { sequence: string; data: unknown } }, { projectId: string; since?: string }>;

// Two gateways on one store and one Redis: a subscriber on one sees what is written through the other.
describe.skipIf(!haveRedis)('scale-out through Redis', () => {
  let writer: TestGateway;
  let reader: TestGateway;
  let admin: string;

  beforeAll(async () => {
    // A channel prefix of its own, so parallel suites (SQLite and PostgreSQL) never hear each other.
    const redis = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `test-${randomBytes(4).toString('hex')}` };
    writer = await startGateway(redis);
    reader = await startGateway({ ...redis, DATABASE_URL: writer.databaseUrl });
    admin = await writer.token({ sub: 'so-admin', roles: ['admin'] });
  });
  afterAll(async () => {
    await reader?.close();
    await writer?.close();
  });

  it('delivers contextUpdated to a subscriber on the other gateway', async () => {
    const client = wsClient(reader.url, admin);
    const updates = subscribe(client, ContextUpdatedDocument, { personId: 'so-person' });
    await reader.untilSubscribers(1);
    const written = dataOf(
      await writer.execute(UpdateContextDocument, { input: { personId: 'so-person', sessionId: 's', sources: [{ source: 'a', data: { x: 1 } }] } }, admin),
    );
    const received = await updates.next();
    expect(received.data?.contextUpdated.trace.id).toBe(written.updateContext.trace.id);
    expect(received.data?.contextUpdated.trace.timestamp).toBe(written.updateContext.trace.timestamp);
    await updates.stop();
    await client.dispose();
  });

  it('streams project events published through the other gateway, after the catch-up, with no gap', async () => {
    const before = dataOf(await writer.execute(PUBLISH, { projectId: 'so-project', n: 0 }, admin)) as { publishData: { sequence: string } };
    const client = sseClient(reader.url, admin);
    const events = subscribe(client, PROJECT_EVENTS, { projectId: 'so-project', since: '0' });
    expect((await events.next()).data?.projectEvents.sequence).toBe(before.publishData.sequence);
    await reader.untilSubscribers(1);
    const published: string[] = [];
    for (let n = 1; n <= 5; n += 1) {
      published.push((dataOf(await writer.execute(PUBLISH, { projectId: 'so-project', n }, admin)) as { publishData: { sequence: string } }).publishData.sequence);
    }
    const received = (await events.take(published.length)).map((result) => result.data?.projectEvents.sequence);
    expect(received).toEqual(published);
    await events.stop();
    client.dispose();
  });
});
