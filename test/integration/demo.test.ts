import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET } from '../support/tokens.js';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const run = promisify(execFile);

// `npm run demo` records its sample run into the configured store, and the operations it prints work on it.
describe('npm run demo', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway?.close());

  it('records a replayable run, once', async () => {
    const env = { ...process.env, DATABASE_URL: gateway.databaseUrl, JWT_SECRET: TEST_JWT_SECRET };
    const first = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { env });
    expect(first.stdout).toContain('Recorded demo-run: 2000 agents, 100 ticks, 3 events.');
    const again = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { env });
    expect(again.stdout).toContain('already recorded');

    const token = await gateway.token({ sub: 'demo-viewer' });
    const loaded = dataOf(
      await gateway.execute(
        `mutation { loadReplay(input: { nodeId: "demo-run", downsampling: { maxAgents: 200 } }) { id timeline { totalTicks eventMarkers { name } } } }`,
        {},
        token,
      ),
    ) as { loadReplay: { id: string; timeline: { totalTicks: number; eventMarkers: { name: string }[] } } };
    expect(loaded.loadReplay.timeline).toEqual({ totalTicks: 100, eventMarkers: [{ name: 'News Coverage' }, { name: 'Price Drop' }, { name: 'Referral Wave' }] });
    const state = dataOf(
      await gateway.execute(`query ($id: ID!) { replaySession(id: $id) { state(tick: 50) { agents { id } zonePopulations } } }`, { id: loaded.loadReplay.id }, token),
    ) as { replaySession: { state: { agents: unknown[]; zonePopulations: Record<string, number> } } };
    expect(state.replaySession.state.agents).toHaveLength(200);
    expect(Object.values(state.replaySession.state.zonePopulations).reduce((a, b) => a + b, 0)).toBe(2000);
  }, 60_000);
});
