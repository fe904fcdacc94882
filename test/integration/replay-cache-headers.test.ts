import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const STATE = (id: string) => `{ replaySession(id: "${id}") { state(tick: 1) { tick zonePopulations } } }`;

// Immutable reads say so in HTTP: a GET of a completed run's replay carries a long-lived private Cache-Control;
// a run still recording, a query mixing in mutable fields, or a POST carries none.
describe('HTTP caching headers for replays', () => {
  let gateway: TestGateway;
  let token: string;
  const sessions: Record<string, string> = {};

  beforeAll(async () => {
    gateway = await startGateway();
    token = await gateway.token({ sub: 'ch-ingest', roles: ['ingest'] });
    for (const nodeId of ['done', 'live']) {
      dataOf(await gateway.execute(`mutation { recordSimulation(input: { nodeId: "${nodeId}", agents: [{ id: "a" }] }) { nodeId } }`, {}, token));
      const ticks = [0, 1].map((tick) => ({ tick, agents: [{ id: 'a', zone: 'neutral', stance: tick / 2, emotion: 0, influenceScore: 0 }] }));
      dataOf(await gateway.execute(`mutation ($ticks: [TickInput!]!) { recordTicks(nodeId: "${nodeId}", ticks: $ticks) { totalTicks } }`, { ticks }, token));
      const loaded = dataOf(await gateway.execute(`mutation { loadReplay(input: { nodeId: "${nodeId}" }) { id } }`, {}, token)) as { loadReplay: { id: string } };
      sessions[nodeId] = loaded.loadReplay.id;
    }
    dataOf(await gateway.execute(`mutation { completeSimulation(nodeId: "done") { status } }`, {}, token));
  });
  afterAll(() => gateway?.close());

  const get = (query: string) =>
    fetch(`${gateway.url}?query=${encodeURIComponent(query)}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/graphql-response+json' } });

  it('marks a GET of a completed run as immutable', async () => {
    const response = await get(STATE(sessions.done!));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
    expect(response.headers.get('cache-control')).toBe('private, max-age=86400, immutable');
    expect((await get('{ layoutProfiles { id } }')).headers.get('cache-control')).toBe('private, max-age=86400, immutable');
  });

  it('adds nothing for a run still recording, mixed queries, errors or POST', async () => {
    expect((await get(STATE(sessions.live!))).headers.get('cache-control')).toBeNull();
    expect((await get(`{ simulation(nodeId: "done") { status } replaySession(id: "${sessions.done}") { id } }`)).headers.get('cache-control')).toBeNull();
    expect((await get(`{ replaySession(id: "${sessions.done}") { state(tick: 99) { tick } } }`)).headers.get('cache-control')).toBeNull();
    const post = await fetch(gateway.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: STATE(sessions.done!) }),
    });
    expect(post.headers.get('cache-control')).toBeNull();
  });
});
