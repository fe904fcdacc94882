import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextUpdatedDocument, UpdateContextDocument } from '../generated/graphql.js';
import { sseClient, subscribe, wsClient } from '../support/clients.js';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';

describe('smoke', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('delivers a context update over WebSocket and SSE', async () => {
    const token = await gateway.token({ sub: 'alice' });
    const ws = wsClient(gateway.url, token);
    const sse = sseClient(gateway.url, token);
    const overWs = subscribe(ws, ContextUpdatedDocument, { personId: 'alice' });
    const overSse = subscribe(sse, ContextUpdatedDocument, { personId: 'alice' });
    await gateway.untilSubscribers(2);
    const update = dataOf(
      await gateway.execute(UpdateContextDocument, { input: { personId: 'alice', sessionId: 's1', sources: [{ source: 'gps', data: { at: 'home' } }] } }, token),
    );
    const [wsResult, sseResult] = await Promise.all([overWs.next(), overSse.next()]);
    expect(wsResult.data?.contextUpdated.trace.id).toBe(update.updateContext.trace.id);
    expect(sseResult.data?.contextUpdated.context).toEqual({ at: 'home' });
    await overWs.stop();
    await overSse.stop();
    await ws.dispose();
    sse.dispose();
  });
});
