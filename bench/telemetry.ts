import { seededRandom } from '../src/domain/random.js';
import type { TickInput } from '../src/services/simulation-recordings.js';

const ZONES = ['supporters', 'neutral', 'skeptics'];
const clamp = (value: number) => Math.min(1, Math.max(-1, value));

/**
 * Deterministic telemetry shaped like a live run: stances and emotions drift a little each tick, about 1% of the
 * agents change zone, and an occasional stance jump makes a key moment. Tick 0 reports every agent; later ticks
 * report each agent with probability `reportShare` (1 = every agent every tick, the heaviest case).
 */
export function telemetry(agents: number, ticks: number, reportShare: number, seed = 7): TickInput[] {
  const random = seededRandom(seed);
  const state = Array.from({ length: agents }, (_, i) => ({
    id: `agent-${i}`,
    zone: ZONES[i % ZONES.length]!,
    stance: clamp(random() * 2 - 1),
    emotion: random(),
    influenceScore: random(),
  }));
  return Array.from({ length: ticks }, (_, tick) => {
    const reported = state.filter(() => tick === 0 || random() < reportShare);
    for (const agent of reported) {
      if (tick === 0) continue;
      agent.stance = clamp(agent.stance + (random() < 0.002 ? 0.5 : 0.02) * (random() * 2 - 1));
      agent.emotion = Math.min(1, Math.max(0, agent.emotion + 0.05 * (random() - 0.5)));
      if (random() < 0.01) agent.zone = ZONES[Math.floor(random() * ZONES.length)]!;
    }
    return { tick, metrics: { adoption: tick / ticks }, agents: reported.map((agent) => ({ ...agent })) };
  });
}
