import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const AGENT = `query ($id: ID!, $agentId: ID!, $reasoning: Boolean) { replaySession(id: $id) { agent(agentId: $agentId, includeReasoning: $reasoning) {
  agentId personaName segment reasoning
  currentState { id zone stance recentAction position { x y } }
  trajectorySummary { zonesVisited totalTransitions finalDecision decisionTick }
  keyMoments { tick event stateChange }
  influenceConnections { agentId strength direction }
} } }`;

type Focus = {
  agentId: string;
  personaName: string | null;
  segment: string | null;
  reasoning: string | null;
  currentState: { zone: string; stance: number; recentAction: string | null };
  trajectorySummary: { zonesVisited: string[]; totalTransitions: number; finalDecision: string | null; decisionTick: number | null };
  keyMoments: { tick: number; event: string; stateChange: { stance: number; toStance: number } }[];
  influenceConnections: { agentId: string; strength: number; direction: string }[];
};

// Agent focus reads what recording derived: zone moves, key moments (stance moves of 0.15 or more, with the
// event active in the agent's zone) and the influence graph.
describe('replay agent focus', () => {
  let gateway: TestGateway;
  let token: string;
  let sessionId: string;

  beforeAll(async () => {
    gateway = await startGateway();
    token = await gateway.token({ sub: 'af-ingest', roles: ['ingest'] });
    const agent = (id: string, zone: string, stance: number, extra: Record<string, string> = {}) => ({ id, zone, stance, emotion: 0, influenceScore: 0.5, ...extra });
    dataOf(
      await gateway.execute(
        `mutation ($input: RecordSimulationInput!) { recordSimulation(input: $input) { nodeId } }`,
        {
          input: {
            nodeId: 'af',
            agents: [{ id: 'ada', personaName: 'Ada', segment: 'early_adopter' }, { id: 'bob' }, { id: 'cy' }],
            influence: [
              { from: 'bob', to: 'ada', strength: 0.8 },
              { from: 'ada', to: 'cy', strength: 0.5 },
            ],
          },
        },
        token,
      ),
    );
    const ticks = [
      { tick: 0, agents: [agent('ada', 'skeptics', 0.2), agent('bob', 'supporters', 0.9), agent('cy', 'neutral', 0.5)] },
      { tick: 1, agents: [agent('ada', 'neutral', 0.3)], events: [{ id: 'news', type: 'media_event', name: 'News Coverage', affectedZone: 'supporters', durationTicks: 5 }] },
      { tick: 2, agents: [agent('ada', 'supporters', 0.6, { recentAction: 'adopted', reasoning: 'Bob convinced me' })] },
      { tick: 3, agents: [agent('ada', 'supporters', 0.65, { recentAction: 'adopted', reasoning: 'Bob convinced me' })] },
    ];
    dataOf(await gateway.execute(`mutation ($ticks: [TickInput!]!) { recordTicks(nodeId: "af", ticks: $ticks) { totalTicks } }`, { ticks }, token));
    sessionId = (dataOf(await gateway.execute(`mutation { loadReplay(input: { nodeId: "af", downsampling: { maxAgents: 1 } }) { id } }`, {}, token)) as { loadReplay: { id: string } }).loadReplay.id;
  });
  afterAll(() => gateway?.close());

  const focus = async (agentId: string, reasoning = false) =>
    (dataOf(await gateway.execute(AGENT, { id: sessionId, agentId, reasoning }, token)) as { replaySession: { agent: Focus | null } }).replaySession.agent;

  it('tells an agent’s trajectory, key moments and influence links', async () => {
    const ada = (await focus('ada'))!;
    expect(ada).toMatchObject({ agentId: 'ada', personaName: 'Ada', segment: 'early_adopter', reasoning: null });
    expect(ada.currentState).toMatchObject({ zone: 'supporters', stance: 0.65, recentAction: 'adopted' });
    expect(ada.trajectorySummary).toEqual({ zonesVisited: ['skeptics', 'neutral', 'supporters'], totalTransitions: 2, finalDecision: 'adopted', decisionTick: 2 });
    // 0.2 → 0.3 and 0.6 → 0.65 are small; 0.3 → 0.6 is a key moment, during the news in the supporters zone.
    expect(ada.keyMoments).toEqual([{ tick: 2, event: 'News Coverage', stateChange: { stance: 0.3, toStance: 0.6 } }]);
    expect(ada.influenceConnections).toEqual([
      { agentId: 'bob', strength: 0.8, direction: 'incoming' },
      { agentId: 'cy', strength: 0.5, direction: 'outgoing' },
    ]);
  });

  it('gives reasoning only on request, covers agents outside the sample, and null for unknown ids', async () => {
    expect((await focus('ada', true))!.reasoning).toBe('Bob convinced me');
    expect((await focus('cy'))!.trajectorySummary).toEqual({ zonesVisited: ['neutral'], totalTransitions: 0, finalDecision: null, decisionTick: null });
    expect(await focus('nobody')).toBeNull();
  });
});
