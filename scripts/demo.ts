// npm run demo: records a deterministic sample simulation ("demo-run": 2,000 agents, 100 ticks, three events)
// into DATABASE_URL, so a replay can be loaded in GraphiQL a minute after starting the server.
import { developmentViewer } from '../src/auth/viewer.js';
import { loadConfig } from '../src/config.js';
import { seededRandom } from '../src/domain/random.js';
import { createLocalPubSub } from '../src/realtime/pubsub.js';
import { createServices } from '../src/services/index.js';
import type { AgentTickInput, TickInput } from '../src/services/simulation-recordings.js';
import { openDatabase } from '../src/store/database.js';

const NODE = 'demo-run';
const AGENTS = 2_000;
const TICKS = 100;
const SEGMENTS = ['early_adopter', 'mainstream', 'laggard'] as const;
const EVENTS = [
  { tick: 15, id: 'news', type: 'media_event', name: 'News Coverage', affectedZone: 'neutral', durationTicks: 10, intensity: 0.8 },
  { tick: 40, id: 'price', type: 'price_change', name: 'Price Drop', affectedZone: 'skeptics', durationTicks: 15, intensity: 1 },
  { tick: 70, id: 'referrals', type: 'peer_wave', name: 'Referral Wave', affectedZone: 'neutral', durationTicks: 20, intensity: 0.6 },
];

const zoneOf = (stance: number) => (stance >= 0.65 ? 'supporters' : stance <= 0.35 ? 'skeptics' : 'neutral');

const config = loadConfig();
const database = await openDatabase(config.store);
const services = createServices({ database, pubsub: createLocalPubSub(), config, now: () => new Date() });
const existing = await services.simulation(developmentViewer, NODE);
if (existing?.status === 'COMPLETED') {
  console.log(`${NODE} is already recorded (${existing.totalTicks} ticks, ${existing.agentCount} agents).`);
} else {
  const random = seededRandom(2026);
  const agents = Array.from({ length: AGENTS }, (_, i) => ({ id: `agent-${i}`, personaName: `Persona ${i}`, segment: SEGMENTS[i % 3]! }));
  const influence = agents.flatMap((agent) =>
    Array.from({ length: 2 }, () => ({ from: agent.id, to: agents[Math.floor(random() * AGENTS)]!.id, strength: Math.round(random() * 100) / 100 })),
  ).filter((edge) => edge.from !== edge.to);
  await services.recordSimulation(developmentViewer, { nodeId: NODE, keyframeInterval: 5, agents, influence });

  const stance = agents.map((a) => (a.segment === 'early_adopter' ? 0.55 : a.segment === 'mainstream' ? 0.45 : 0.3) + (random() - 0.5) * 0.3);
  const ticks: TickInput[] = [];
  for (let tick = 0; tick < TICKS; tick += 1) {
    const pull = EVENTS.filter((e) => e.tick <= tick && tick < e.tick + e.durationTicks).reduce((sum, e) => sum + e.intensity * 0.01, 0);
    const changed: AgentTickInput[] = [];
    agents.forEach((agent, i) => {
      const before = stance[i]!;
      const drift = tick === 0 ? 0 : (random() - 0.48) * 0.04 + pull * (agent.segment === 'laggard' ? 0.5 : 1);
      const after = Math.min(1, Math.max(0, before + drift));
      stance[i] = after;
      if (tick === 0 || Math.abs(after - before) > 0.005) {
        changed.push({
          id: agent.id,
          zone: zoneOf(after),
          stance: Math.round(after * 1000) / 1000,
          emotion: Math.round(random() * 1000) / 1000,
          influenceScore: Math.round(((i % 50) / 50) * 1000) / 1000,
          recentAction: after >= 0.8 ? 'adopted' : after <= 0.15 ? 'rejected' : null,
          reasoning: after >= 0.8 ? 'Convinced by what peers and the news said' : null,
        });
      }
    });
    const adoption = stance.filter((s) => s >= 0.65).length / AGENTS;
    ticks.push({ tick, metrics: { adoption_rate: Math.round(adoption * 1000) / 1000 }, agents: changed, events: EVENTS.filter((e) => e.tick === tick) });
  }
  for (let i = 0; i < TICKS; i += 10) await services.recordTicks(developmentViewer, NODE, ticks.slice(i, i + 10));
  await services.completeSimulation(developmentViewer, NODE);
  console.log(`Recorded ${NODE}: ${AGENTS} agents, ${TICKS} ticks, ${EVENTS.length} events.`);
}
await database.close();
console.log(`
Start the server (npm start) and paste into GraphiQL at http://127.0.0.1:4000/graphql:

  mutation { loadReplay(input: { nodeId: "${NODE}", downsampling: { maxAgents: 200 } }) {
    id timeline { totalTicks keyframeTicks eventMarkers { tick name } } } }

  query { replaySession(id: "<id from above>") {
    state(tick: 50) { zonePopulations globalMetrics agents { id zone position { x y } stance } activeEvents { name } }
    agent(agentId: "agent-0", includeReasoning: true) { trajectorySummary { zonesVisited finalDecision decisionTick } keyMoments { tick event } } } }

  subscription { replayPlayback(sessionId: "<id>", speed: 2) { __typename ... on StateFrame { tick } ... on MarkerFrame { event { name } } } }
`);
