import { describe, expect, it } from 'vitest';
import {
  applyAgentChanges,
  changedAgents,
  isKeyframe,
  keyframeAtOrBefore,
  keyMoments,
  zonePopulations,
  zoneTransitions,
  type AgentStates,
  type AgentTickState,
} from '../../src/domain/agent-states.js';

const agent = (id: string, zone: string, overrides: Partial<AgentTickState> = {}): AgentTickState => ({
  id,
  zone,
  stance: 0,
  emotion: 0,
  influenceScore: 0,
  recentAction: null,
  reasoning: null,
  ...overrides,
});
const statesOf = (...agents: AgentTickState[]): AgentStates => new Map(agents.map((a) => [a.id, a]));
const noEvents = () => null;

describe('isKeyframe / keyframeAtOrBefore', () => {
  it('marks exactly the multiples of the interval, tick 0 included', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 8, 9, 10].filter((t) => isKeyframe(t, 4))).toEqual([0, 4, 8]);
    expect([0, 1, 2, 3].every((t) => isKeyframe(t, 1))).toBe(true);
    expect(isKeyframe(5, 5)).toBe(true);
    expect(isKeyframe(7, 5)).toBe(false);
  });

  it('finds the nearest keyframe at or before a tick, which is always a keyframe', () => {
    expect([0, 1, 3, 4, 5, 7, 8, 9].map((t) => keyframeAtOrBefore(t, 4))).toEqual([0, 0, 0, 4, 4, 4, 8, 8]);
    expect(keyframeAtOrBefore(0, 5)).toBe(0);
    expect(keyframeAtOrBefore(1_000_003, 5)).toBe(1_000_000);
    expect(keyframeAtOrBefore(7, 1)).toBe(7);
    for (let tick = 0; tick < 50; tick++) {
      for (const interval of [1, 2, 3, 5, 7]) {
        const kf = keyframeAtOrBefore(tick, interval);
        expect(isKeyframe(kf, interval)).toBe(true);
        expect(kf).toBeLessThanOrEqual(tick);
        expect(tick - kf).toBeLessThan(interval);
      }
    }
  });
});

describe('applyAgentChanges', () => {
  it('lays the reported agents over the previous states and keeps the others', () => {
    const before = statesOf(agent('a', 'z1'), agent('b', 'z1'), agent('c', 'z2'));
    const after = applyAgentChanges(before, [agent('b', 'z2', { stance: 0.5 }), agent('d', 'z3')]);
    expect([...after.values()]).toEqual([agent('a', 'z1'), agent('b', 'z2', { stance: 0.5 }), agent('c', 'z2'), agent('d', 'z3')]);
  });

  it('does not change the previous map', () => {
    const before = statesOf(agent('a', 'z1'));
    const after = applyAgentChanges(before, [agent('a', 'z2')]);
    expect(before.get('a')!.zone).toBe('z1');
    expect(after.get('a')!.zone).toBe('z2');
    expect(after).not.toBe(before);
  });

  it('with no changes gives the same states; from nothing gives the reported ones', () => {
    const before = statesOf(agent('a', 'z1'));
    expect(applyAgentChanges(before, [])).toEqual(before);
    expect(applyAgentChanges(new Map(), [agent('x', 'z')])).toEqual(statesOf(agent('x', 'z')));
  });
});

describe('changedAgents', () => {
  const base = agent('a', 'z1', { stance: 0.1, emotion: 0.2, influenceScore: 0.3, recentAction: 'post', reasoning: 'why' });

  it('leaves out agents whose state is the same, even as a different object', () => {
    expect(changedAgents(statesOf(base), [{ ...base }])).toEqual([]);
  });

  it.each([
    ['zone', { zone: 'z2' }],
    ['stance', { stance: 0.11 }],
    ['emotion', { emotion: -0.2 }],
    ['influenceScore', { influenceScore: 0 }],
    ['recentAction', { recentAction: null }],
    ['reasoning', { reasoning: 'because' }],
  ] as const)('reports an agent whose %s changed', (_, change) => {
    const next = { ...base, ...change };
    expect(changedAgents(statesOf(base), [next])).toEqual([next]);
  });

  it('reports agents that were not there before, and only the changed ones', () => {
    const prev = statesOf(agent('a', 'z1'), agent('b', 'z1'));
    const next = [agent('a', 'z1'), agent('b', 'z2'), agent('c', 'z1')];
    expect(changedAgents(prev, next)).toEqual([agent('b', 'z2'), agent('c', 'z1')]);
  });
});

describe('zonePopulations', () => {
  it('counts every agent in its zone', () => {
    const states = statesOf(agent('a', 'supporters'), agent('b', 'neutral'), agent('c', 'supporters'), agent('d', 'skeptics'), agent('e', 'supporters'));
    expect(zonePopulations(states)).toEqual({ supporters: 3, neutral: 1, skeptics: 1 });
  });

  it('is empty for no agents and sums to the agent count', () => {
    expect(zonePopulations(new Map())).toEqual({});
    const many = statesOf(...Array.from({ length: 97 }, (_, i) => agent(`a${i}`, `z${i % 7}`)));
    const counts = zonePopulations(many);
    expect(Object.values(counts).reduce((s, n) => s + n, 0)).toBe(97);
    expect(counts.z0).toBe(14);
    expect(counts.z6).toBe(13);
  });
});

describe('zoneTransitions', () => {
  it('reports the agents that moved zone, with from and to', () => {
    const prev = statesOf(agent('a', 'z1'), agent('b', 'z1'), agent('c', 'z2'));
    const next = [agent('a', 'z2'), agent('b', 'z1', { stance: 1 }), agent('c', 'z1')];
    expect(zoneTransitions(prev, next, 7, noEvents)).toEqual([
      { tick: 7, agentId: 'a', fromZone: 'z1', toZone: 'z2', reason: null },
      { tick: 7, agentId: 'c', fromZone: 'z2', toZone: 'z1', reason: null },
    ]);
  });

  it('reports nothing for agents without a previous state (tick 0)', () => {
    expect(zoneTransitions(new Map(), [agent('a', 'z1')], 0, () => 'rally')).toEqual([]);
  });

  it("gives the agent's recent action as the reason, else an event's type in the destination zone, else null", () => {
    const eventTypeIn = (zone: string) => (zone === 'z2' ? 'rally' : null);
    const prev = statesOf(agent('a', 'z1'), agent('b', 'z1'), agent('c', 'z2'));
    const next = [agent('a', 'z2', { recentAction: 'shared post' }), agent('b', 'z2'), agent('c', 'z1')];
    // c leaves the zone with the event: the origin's events are no reason.
    expect(zoneTransitions(prev, next, 3, eventTypeIn).map((t) => [t.agentId, t.reason])).toEqual([
      ['a', 'shared post'],
      ['b', 'rally'],
      ['c', null],
    ]);
  });

  it('ignores agents that kept their zone even when their other state changed', () => {
    const prev = statesOf(agent('a', 'z1'));
    const next = [agent('a', 'z1', { stance: 0.9, recentAction: 'argued' })];
    expect(zoneTransitions(prev, next, 1, () => 'rally')).toEqual([]);
  });
});

describe('keyMoments', () => {
  it('reports the reported agents whose stance moved by at least 0.15 either way, with the event in their zone', () => {
    const prev = statesOf(agent('a', 'z1', { stance: 0.1 }), agent('b', 'z2', { stance: 0.5 }), agent('c', 'z1', { stance: 0 }));
    const reported = [agent('a', 'z1', { stance: 0.25 }), agent('b', 'z2', { stance: 0.2 }), agent('c', 'z1', { stance: 0.149 })];
    const eventNameIn = (zone: string) => (zone === 'z2' ? 'debate' : null);
    expect(keyMoments(prev, reported, 4, eventNameIn)).toEqual([
      { agentId: 'a', tick: 4, fromStance: 0.1, toStance: 0.25, eventName: null },
      { agentId: 'b', tick: 4, fromStance: 0.5, toStance: 0.2, eventName: 'debate' },
    ]);
  });

  it('reports nothing for agents without a previous state', () => {
    expect(keyMoments(new Map(), [agent('a', 'z1', { stance: 1 })], 0, () => 'rally')).toEqual([]);
  });
});
