/** An agent as recorded at one tick. */
export interface AgentTickState {
  id: string;
  zone: string;
  stance: number;
  emotion: number;
  influenceScore: number;
  recentAction: string | null;
  reasoning: string | null;
}

export type AgentStates = ReadonlyMap<string, AgentTickState>;

export interface ZoneTransition {
  tick: number;
  agentId: string;
  fromZone: string;
  toZone: string;
  reason: string | null;
}

/** Ticks at multiples of the interval hold every agent's full state; the others only what changed. */
export const isKeyframe = (tick: number, interval: number) => tick % interval === 0;
export const keyframeAtOrBefore = (tick: number, interval: number) => tick - (tick % interval);

const sameState = (a: AgentTickState, b: AgentTickState) =>
  a.zone === b.zone &&
  a.stance === b.stance &&
  a.emotion === b.emotion &&
  a.influenceScore === b.influenceScore &&
  a.recentAction === b.recentAction &&
  a.reasoning === b.reasoning;

/** The states after a tick: the previous ones with this tick's reported agents laid over them. */
export function applyAgentChanges(previous: AgentStates, changes: readonly AgentTickState[]): Map<string, AgentTickState> {
  const next = new Map(previous);
  for (const state of changes) next.set(state.id, state);
  return next;
}

/**
 * What a non-keyframe tick stores: of the agents reported at it (those not reported kept their state), the ones
 * whose state differs from before.
 */
export const changedAgents = (previous: AgentStates, reported: readonly AgentTickState[]): AgentTickState[] =>
  reported.filter((state) => {
    const before = previous.get(state.id);
    return !before || !sameState(before, state);
  });

/** How many agents are in each zone (all agents, not a sample). */
export function zonePopulations(states: AgentStates): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of states.values()) counts[state.zone] = (counts[state.zone] ?? 0) + 1;
  return counts;
}

/**
 * The agents reported at this tick that moved zone. The reason is the agent's own recent action, else the type of
 * an event active in the zone it moved to, else unknown.
 */
export function zoneTransitions(
  previous: AgentStates,
  reported: readonly AgentTickState[],
  tick: number,
  eventTypeIn: (zone: string) => string | null,
): ZoneTransition[] {
  const moves: ZoneTransition[] = [];
  for (const state of reported) {
    const before = previous.get(state.id);
    if (before && before.zone !== state.zone) {
      moves.push({ tick, agentId: state.id, fromZone: before.zone, toZone: state.zone, reason: state.recentAction ?? eventTypeIn(state.zone) });
    }
  }
  return moves;
}

/** How far an agent's stance must move in one tick to count as a key moment of its trajectory. */
export const KEY_MOMENT_STANCE_CHANGE = 0.15;

export interface KeyMoment {
  agentId: string;
  tick: number;
  fromStance: number;
  toStance: number;
  eventName: string | null;
}

/** The agents reported at this tick whose stance moved by at least KEY_MOMENT_STANCE_CHANGE, with the event active in their zone. */
export function keyMoments(previous: AgentStates, reported: readonly AgentTickState[], tick: number, eventNameIn: (zone: string) => string | null): KeyMoment[] {
  const moments: KeyMoment[] = [];
  for (const state of reported) {
    const before = previous.get(state.id);
    if (before && Math.abs(state.stance - before.stance) >= KEY_MOMENT_STANCE_CHANGE) {
      moments.push({ agentId: state.id, tick, fromStance: before.stance, toStance: state.stance, eventName: eventNameIn(state.zone) });
    }
  }
  return moments;
}
