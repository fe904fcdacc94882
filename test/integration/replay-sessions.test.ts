import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from 'graphql';
import {
  CloseReplayDocument,
  CompleteSimulationDocument,
  LoadReplayDocument,
  LoadReplaySampleDocument,
  RecordSimulationDocument,
  RecordTicksDocument,
  ReplaySessionDocument,
  ReplayStateDocument,
  SeekReplayDocument,
  type AgentProfileInput,
  type AgentTickInput,
  type EventInput,
  type LoadReplayInput,
  type TickInput,
  type WorldStateFieldsFragment,
} from '../generated/graphql.js';
import { loadConfig } from '../../src/config.js';
import { agentPosition } from '../../src/domain/agent-positions.js';
import { findLayoutProfile } from '../../src/domain/layouts.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { seededRandom } from '../support/random.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

const DEFAULT_ZONES = ['supporters', 'neutral', 'skeptics'] as const;
const QUADRANT_ZONES = ['high_aware_positive', 'low_aware_positive', 'low_aware_negative', 'high_aware_negative'] as const;
const MINUTE = 60_000;

type Profile = { id: string; segment: string | null };
/** An agent's full state as the model keeps it (what replay must show for it). */
type ModelAgent = { id: string; zone: string; stance: number; emotion: number; influenceScore: number; recentAction: string | null };
type ModelEvent = { id: string; tick: number; endTick: number; type: string; name: string | null; intensity: number; affectedZone: string | null };

const agentInput = (id: string, zone: string, overrides: Partial<AgentTickInput> = {}): AgentTickInput => ({
  id,
  zone,
  stance: 0,
  emotion: 0,
  influenceScore: 0,
  ...overrides,
});

const extensionsOf = (result: ExecutionResult<unknown>) => {
  expect(result.errors, JSON.stringify(result.errors)).toHaveLength(1);
  return result.errors![0]!.extensions as Record<string, unknown>;
};
const byId = <T extends { id: string }>(list: Iterable<T>) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const idsOf = (list: readonly { id: string }[]) => list.map((a) => a.id).sort();
const withoutPositions = (state: WorldStateFieldsFragment) => ({ ...state, agents: byId(state.agents.map(({ position: _, ...rest }) => rest)) });
const sortedEvents = <T extends { tick: number; id: string }>(events: readonly T[]) =>
  [...events].sort((a, b) => a.tick - b.tick || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** JSON of raw rows (BigInt-safe), to compare the store byte for byte. */
const rawJson = (rows: unknown) => JSON.stringify(rows, (_, value) => (typeof value === 'bigint' ? `${value}n` : value));

/**
 * Section 3 of the contract, the replay half: loadReplay, replaySession (timeline, zones, layers, markers,
 * state), seekReplay, closeReplay and expiry, checked against models computed here from what was recorded.
 * Every test owns its node ids; chunk, agent focus and replayPlayback are covered elsewhere.
 */
describe('replay sessions', () => {
  let gateway: TestGateway;
  let database: Database;
  let ingest: string;
  let plain: string;
  let other: string;
  let admin: string;

  beforeAll(async () => {
    gateway = await startGateway();
    const config = loadConfig({ DATABASE_URL: gateway.databaseUrl, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    database = await openDatabase(config.store);
    [ingest, plain, other, admin] = await Promise.all([
      gateway.token({ sub: 'replay-ingest', roles: ['ingest'] }),
      gateway.token({ sub: 'replay-viewer' }),
      gateway.token({ sub: 'replay-other-viewer' }),
      gateway.token({ sub: 'replay-admin', roles: ['admin'] }),
    ]);
  });
  afterAll(async () => {
    await database?.close();
    await gateway?.close();
  });

  /** Records a run (ingest token) and, unless told otherwise, completes it. */
  async function recordRun(
    nodeId: string,
    agents: AgentProfileInput[],
    ticks: TickInput[],
    { keyframeInterval, complete = true }: { keyframeInterval?: number; complete?: boolean } = {},
  ) {
    dataOf(await gateway.execute(RecordSimulationDocument, { input: { nodeId, agents, ...(keyframeInterval ? { keyframeInterval } : {}) } }, ingest));
    if (ticks.length > 0) dataOf(await gateway.execute(RecordTicksDocument, { nodeId, ticks }, ingest));
    if (complete) dataOf(await gateway.execute(CompleteSimulationDocument, { nodeId }, ingest));
  }
  const load = (input: LoadReplayInput, token: string | null = plain) => gateway.execute(LoadReplayDocument, { input }, token);
  const loaded = async (input: LoadReplayInput, token: string | null = plain) => dataOf(await load(input, token)).loadReplay;
  const sampleOf = async (input: LoadReplayInput) => {
    const session = dataOf(await gateway.execute(LoadReplaySampleDocument, { input }, plain)).loadReplay;
    return { id: session.id, ids: session.initialState.agents.map((a) => a.id) };
  };
  const stateResult = (id: string, tick: number, includeAgents?: boolean, token: string | null = plain) =>
    gateway.execute(ReplayStateDocument, { id, tick, ...(includeAgents === undefined ? {} : { includeAgents }) }, token);
  const stateAt = async (id: string, tick: number, includeAgents?: boolean) => {
    const session = dataOf(await stateResult(id, tick, includeAgents)).replaySession;
    expect(session, `session ${id}`).not.toBeNull();
    return session!.state;
  };
  const seek = (sessionId: string, tick: number, preloadRange?: number, token: string | null = plain) =>
    gateway.execute(SeekReplayDocument, { sessionId, tick, ...(preloadRange === undefined ? {} : { preloadRange }) }, token);
  const close = (sessionId: string, token: string | null = plain) => gateway.execute(CloseReplayDocument, { sessionId }, token);
  const session = async (id: string, token: string | null = plain) => dataOf(await gateway.execute(ReplaySessionDocument, { id }, token)).replaySession;

  /** Every position inside its agent's zone on the layout, and where the layout's deterministic placement puts it. */
  function expectPlaced(state: WorldStateFieldsFragment, layoutId: string) {
    const zones = new Map(findLayoutProfile(layoutId)!.zones.map((z) => [z.id, z.bounds]));
    for (const agent of state.agents) {
      const b = zones.get(agent.zone)!;
      const { x, y } = agent.position;
      expect(x > b.x && x < b.x + b.width && y > b.y && y < b.y + b.height, `${agent.id} at tick ${state.tick}: ${x},${y} in ${agent.zone}`).toBe(true);
      expect(agent.position, `${agent.id} at tick ${state.tick}`).toEqual(agentPosition(agent.id, state.tick, b));
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // A small run for defaults, timeline and markers: 6 agents, 11 ticks, keyframes every 5 (the default).
  const BASIC_PROFILES: AgentProfileInput[] = [
    { id: 'b1', personaName: 'One', segment: 'urban' },
    { id: 'b2', segment: 'rural' },
    { id: 'b3', segment: 'urban' },
    { id: 'b4' },
    { id: 'b5', segment: 'rural' },
    { id: 'b6', segment: 'urban' },
  ];
  const basicTicks = (count: number): TickInput[] =>
    Array.from({ length: count }, (_, tick) => {
      if (tick === 0) {
        return {
          tick,
          metrics: { step: 0 },
          agents: BASIC_PROFILES.map((p, i) => agentInput(p.id, DEFAULT_ZONES[i % 3]!, { stance: i / 10, influenceScore: i, recentAction: i === 0 ? 'joined' : null })),
          events: [{ id: 'launch', type: 'launch', name: 'Launch day', intensity: 0.5, affectedZone: 'neutral', durationTicks: 3 }],
        };
      }
      const events: EventInput[] =
        tick === 4
          ? [
              { id: 'rally', type: 'rally', name: 'Rally', affectedZone: 'supporters', durationTicks: 2 },
              { id: 'ad', type: 'ad' },
            ]
          : tick === 9
            ? [{ id: 'scandal', type: 'scandal', intensity: 2 }]
            : [];
      return { tick, ...(tick % 2 === 0 ? { metrics: { step: tick } } : {}), agents: [agentInput(`b${(tick % 6) + 1}`, DEFAULT_ZONES[tick % 3]!, { stance: tick })], ...(events.length ? { events } : {}) };
    });

  describe('loadReplay', () => {
    beforeAll(async () => {
      await recordRun('lr-basic', BASIC_PROFILES, basicTicks(11));
    });

    it('defaults to the default layout, 1000 agents, REPRESENTATIVE sampling (and preloads 10 ticks)', async () => {
      const replay = await loaded({ nodeId: 'lr-basic' });
      expect(replay).toMatchObject({ nodeId: 'lr-basic', layoutProfile: 'default', maxAgents: 1000, samplingStrategy: 'REPRESENTATIVE' });
      expect(replay.id).toEqual(expect.any(String));
      expect(replay.zones.map((z) => z.id)).toEqual([...DEFAULT_ZONES]);
      // An empty downsampling input takes the same defaults.
      expect(await loaded({ nodeId: 'lr-basic', downsampling: {} })).toMatchObject({ layoutProfile: 'default', maxAgents: 1000, samplingStrategy: 'REPRESENTATIVE' });

      // The defaults the contract names, as the schema advertises them.
      const introspection = dataOf(
        await gateway.execute<
          { load: { inputFields: { name: string; defaultValue: string | null }[] }; down: { inputFields: { name: string; defaultValue: string | null }[] }; mutation: { fields: { name: string; args: { name: string; defaultValue: string | null }[] }[] } },
          Record<string, never>
        >(
          `{ load: __type(name: "LoadReplayInput") { inputFields { name defaultValue } }
             down: __type(name: "DownsamplingInput") { inputFields { name defaultValue } }
             mutation: __type(name: "Mutation") { fields { name args { name defaultValue } } } }`,
          {},
          plain,
        ),
      );
      const defaults = (fields: { name: string; defaultValue: string | null }[]) => Object.fromEntries(fields.map((f) => [f.name, f.defaultValue]));
      expect(defaults(introspection.load.inputFields)).toMatchObject({ layoutProfile: '"default"', preloadTicks: '10' });
      expect(defaults(introspection.down.inputFields)).toEqual({ maxAgents: '1000', samplingStrategy: 'REPRESENTATIVE' });
      const seekField = introspection.mutation.fields.find((f) => f.name === 'seekReplay')!;
      expect(defaults(seekField.args)).toMatchObject({ preloadRange: '10' });
    });

    it('answers the timeline: total ticks, keyframe interval and ticks, zones, layers and event markers', async () => {
      const replay = await loaded({ nodeId: 'lr-basic' });
      const layout = findLayoutProfile('default')!;
      const zones = layout.zones.map((z) => ({ id: z.id, name: z.name, bounds: z.bounds, color: z.color }));
      expect(replay.timeline.totalTicks).toBe(11);
      expect(replay.timeline.keyframeInterval).toBe(5);
      expect(replay.timeline.keyframeTicks).toEqual([0, 5, 10]);
      expect(replay.timeline.zoneDefinitions).toEqual(zones);
      expect(replay.zones).toEqual(zones);
      // The contract's default layout: three zones side by side on 1000x600.
      expect(replay.zones.map((z) => z.bounds.height)).toEqual([600, 600, 600]);
      expect(replay.zones.reduce((sum, z) => sum + z.bounds.width, 0)).toBe(1000);

      expect(replay.layers.length).toBeGreaterThan(0);
      expect(replay.timeline.layerDefinitions).toEqual(replay.layers);
      expect(new Set(replay.layers.map((l) => l.id)).size).toBe(replay.layers.length);
      expect(replay.layers.some((l) => l.defaultVisible)).toBe(true);

      // One marker per event at the tick it started, whatever its duration, in tick order.
      const expectedMarkers = [
        { tick: 0, type: 'launch', name: 'Launch day' },
        { tick: 4, type: 'ad', name: null },
        { tick: 4, type: 'rally', name: 'Rally' },
        { tick: 9, type: 'scandal', name: null },
      ];
      const sortMarkers = <T extends { tick: number; type: string }>(list: T[]) => [...list].sort((a, b) => a.tick - b.tick || (a.type < b.type ? -1 : 1));
      expect(sortMarkers(replay.eventMarkers)).toEqual(expectedMarkers);
      expect(replay.eventMarkers.map((m) => m.tick)).toEqual(expectedMarkers.map((m) => m.tick));
      expect(replay.timeline.eventMarkers).toEqual(replay.eventMarkers);

      // replaySession answers the same session.
      expect(await session(replay.id)).toEqual(replay);
    });

    it('lists as keyframe ticks the multiples of the interval below totalTicks', async () => {
      const cases: [string, number, number, number[]][] = [
        ['kf-10-5', 10, 5, [0, 5]],
        ['kf-1-5', 1, 5, [0]],
        ['kf-3-1', 3, 1, [0, 1, 2]],
        ['kf-9-4', 9, 4, [0, 4, 8]],
        ['kf-3-1000', 3, 1000, [0]],
      ];
      for (const [nodeId, total, interval, expected] of cases) {
        await recordRun(nodeId, BASIC_PROFILES, basicTicks(total), { keyframeInterval: interval });
        const { timeline } = await loaded({ nodeId });
        expect.soft(timeline, nodeId).toMatchObject({ totalTicks: total, keyframeInterval: interval, keyframeTicks: expected });
      }
    });

    it('opens on state(0): initialState is the state at tick 0', async () => {
      const replay = await loaded({ nodeId: 'lr-basic' });
      const { initialState } = replay;
      expect(initialState).toEqual(await stateAt(replay.id, 0));
      expect(initialState).toMatchObject({ tick: 0, isKeyframe: true, globalMetrics: { step: 0 }, zonePopulations: { supporters: 2, neutral: 2, skeptics: 2 } });
      expect(withoutPositions(initialState).agents).toEqual(
        BASIC_PROFILES.map((p, i) => ({ id: p.id, zone: DEFAULT_ZONES[i % 3], stance: i / 10, emotion: 0, influenceScore: i, segment: p.segment ?? null, recentAction: i === 0 ? 'joined' : null })),
      );
      expect(initialState.activeEvents).toEqual([{ id: 'launch', tick: 0, type: 'launch', name: 'Launch day', intensity: 0.5, affectedZone: 'neutral' }]);
      expectPlaced(initialState, 'default');
    });

    it('answers NOT_FOUND for an unknown node, BAD_USER_INPUT for a blank one', async () => {
      expect(codesOf(await load({ nodeId: 'lr-nobody' }))).toEqual(['NOT_FOUND']);
      expect(codesOf(await load({ nodeId: ' ' }))).toEqual(['BAD_USER_INPUT']);
    });

    it('answers NO_TELEMETRY with the node status and a hint for a run without ticks', async () => {
      await recordRun('lr-pending', BASIC_PROFILES, [], { complete: false });
      const pending = extensionsOf(await load({ nodeId: 'lr-pending' }));
      expect(pending).toMatchObject({ code: 'NO_TELEMETRY', nodeStatus: 'PENDING' });
      expect(pending.hint).toEqual(expect.stringMatching(/\S/));

      await recordRun('lr-empty-done', BASIC_PROFILES, []);
      const completed = extensionsOf(await load({ nodeId: 'lr-empty-done' }));
      expect(completed).toMatchObject({ code: 'NO_TELEMETRY', nodeStatus: 'COMPLETED' });
      expect(completed.hint).toEqual(expect.stringMatching(/\S/));
    });

    it('refuses an unknown layout with BAD_USER_INPUT', async () => {
      for (const layoutProfile of ['nope', '', 'DEFAULT']) {
        expect.soft(codesOf(await load({ nodeId: 'lr-basic', layoutProfile })), layoutProfile).toEqual(['BAD_USER_INPUT']);
      }
    });

    it('refuses a layout lacking zones the run used (at any tick) with BAD_USER_INPUT and missingZones', async () => {
      // The default-layout run on the quadrant layout: every zone it used is missing.
      const onQuadrant = extensionsOf(await load({ nodeId: 'lr-basic', layoutProfile: 'quadrant' }));
      expect(onQuadrant.code).toBe('BAD_USER_INPUT');
      expect([...(onQuadrant.missingZones as string[])].sort()).toEqual(['neutral', 'skeptics', 'supporters']);

      // A quadrant run where one agent strays into 'neutral' at tick 2 only.
      const profiles = QUADRANT_ZONES.map((_, i) => ({ id: `q${i}` }));
      await recordRun('lr-stray', profiles, [
        { tick: 0, agents: profiles.map((p, i) => agentInput(p.id, QUADRANT_ZONES[i]!)) },
        { tick: 1, agents: [] },
        { tick: 2, agents: [agentInput('q0', 'neutral')] },
        { tick: 3, agents: [agentInput('q0', 'high_aware_positive')] },
      ]);
      const stray = extensionsOf(await load({ nodeId: 'lr-stray', layoutProfile: 'quadrant' }));
      expect(stray).toMatchObject({ code: 'BAD_USER_INPUT', missingZones: ['neutral'] });
      const onDefault = extensionsOf(await load({ nodeId: 'lr-stray' }));
      expect(onDefault.code).toBe('BAD_USER_INPUT');
      expect([...(onDefault.missingZones as string[])].sort()).toEqual([...QUADRANT_ZONES].sort());
    });

    it('replays a run on quadrant zones with the quadrant layout, agents inside their quadrant', async () => {
      const profiles = Array.from({ length: 12 }, (_, i) => ({ id: `qa${i}`, segment: i % 2 ? 'x' : 'y' }));
      await recordRun('lr-quadrant', profiles, [
        { tick: 0, agents: profiles.map((p, i) => agentInput(p.id, QUADRANT_ZONES[i % 4]!)) },
        { tick: 1, agents: [agentInput('qa0', 'low_aware_negative'), agentInput('qa5', 'high_aware_positive')] },
      ]);
      const replay = await loaded({ nodeId: 'lr-quadrant', layoutProfile: 'quadrant' });
      expect(replay.layoutProfile).toBe('quadrant');
      expect(replay.zones.map((z) => z.id).sort()).toEqual([...QUADRANT_ZONES].sort());
      expect(replay.timeline.zoneDefinitions).toEqual(replay.zones);
      expect(replay.initialState.zonePopulations).toEqual(Object.fromEntries(QUADRANT_ZONES.map((z) => [z, 3])));
      expectPlaced(replay.initialState, 'quadrant');
      const tick1 = await stateAt(replay.id, 1);
      expect(tick1.zonePopulations).toEqual({ high_aware_positive: 3, low_aware_positive: 2, low_aware_negative: 4, high_aware_negative: 3 });
      expect(tick1.agents.find((a) => a.id === 'qa0')!.zone).toBe('low_aware_negative');
      expectPlaced(tick1, 'quadrant');
    });

    it('refuses maxAgents outside 1..10000 and preloadTicks outside 0..100 with BAD_USER_INPUT', async () => {
      for (const maxAgents of [0, -1, 10_001]) {
        expect.soft(codesOf(await load({ nodeId: 'lr-basic', downsampling: { maxAgents } })), `maxAgents ${maxAgents}`).toEqual(['BAD_USER_INPUT']);
      }
      for (const preloadTicks of [-1, 101]) {
        expect.soft(codesOf(await load({ nodeId: 'lr-basic', preloadTicks })), `preloadTicks ${preloadTicks}`).toEqual(['BAD_USER_INPUT']);
      }
      expect((await loaded({ nodeId: 'lr-basic', downsampling: { maxAgents: 1 } })).initialState.agents).toHaveLength(1);
      expect((await loaded({ nodeId: 'lr-basic', downsampling: { maxAgents: 10_000 }, preloadTicks: 100 })).initialState.agents).toHaveLength(6);
      expect((await loaded({ nodeId: 'lr-basic', preloadTicks: 0 })).initialState.agents).toHaveLength(6);
    });

    it('needs a token (UNAUTHENTICATED without one) and no role: any valid token loads and uses any session', async () => {
      const anonymous = await load({ nodeId: 'lr-basic' }, null);
      expect(codesOf(anonymous)).toEqual(['UNAUTHENTICATED']);
      const replays = [];
      for (const token of [plain, other, ingest, admin]) replays.push(await loaded({ nodeId: 'lr-basic' }, token));
      const first = replays[0]!;
      // A session is not tied to the person who opened it.
      expect((await session(first.id, other))!.id).toBe(first.id);
      expect(dataOf(await seek(first.id, 3, undefined, admin)).seekReplay.tick).toBe(3);

      expect(codesOf(await gateway.execute(ReplaySessionDocument, { id: first.id }, null))).toEqual(['UNAUTHENTICATED']);
      expect(codesOf(await seek(first.id, 1, undefined, null))).toEqual(['UNAUTHENTICATED']);
      expect(codesOf(await close(first.id, null))).toEqual(['UNAUTHENTICATED']);
      // The refused close left the session open.
      expect(await session(first.id)).not.toBeNull();
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Sampling: 60 agents in five segment × zone strata (at tick 0), spread through the agent list.
  const STRATA = [
    { segment: 'urban', zone: 'supporters', count: 21 },
    { segment: 'urban', zone: 'neutral', count: 9 },
    { segment: 'rural', zone: 'skeptics', count: 15 },
    { segment: 'rural', zone: 'supporters', count: 10 },
    { segment: null, zone: 'neutral', count: 5 },
  ] as const;
  const SAMPLE_AGENTS = (() => {
    const random = seededRandom(4242);
    const members = STRATA.flatMap((s) => Array.from({ length: s.count }, () => ({ segment: s.segment as string | null, zone: s.zone as string })));
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    // Distinct influence at tick 0 (a permutation of 0..59), unrelated to list order.
    return members.map((m, i) => ({ id: `s${String(i).padStart(2, '0')}`, ...m, influence: (i * 37) % 60 }));
  })();
  const stratumOf = (a: { segment: string | null; zone: string }) => `${a.segment}/${a.zone}`;

  /** Largest-remainder quotas, in integers: every stratum gets floor or ceil of its exact share. */
  function largestRemainder(counts: Map<string, number>, total: number, max: number) {
    const quotas = new Map([...counts].map(([key, n]) => [key, Math.floor((n * max) / total)]));
    const remainders = [...counts].map(([key, n]) => ({ key, r: (n * max) % total })).sort((a, b) => b.r - a.r);
    let left = max - [...quotas.values()].reduce((a, b) => a + b, 0);
    // No ties among the remainders that decide, so the expectation is unambiguous.
    if (left > 0 && left < remainders.length) expect(remainders[left - 1]!.r).toBeGreaterThan(remainders[left]!.r);
    for (const { key } of remainders) if (left-- > 0) quotas.set(key, quotas.get(key)! + 1);
    return quotas;
  }

  describe('sampling', () => {
    beforeAll(async () => {
      await recordRun(
        'smp',
        SAMPLE_AGENTS.map((a) => ({ id: a.id, segment: a.segment })),
        [
          { tick: 0, agents: SAMPLE_AGENTS.map((a) => agentInput(a.id, a.zone, { influenceScore: a.influence })) },
          // Tick 1: influence inverted and everyone moves zone: sampling must keep to tick 0.
          { tick: 1, agents: SAMPLE_AGENTS.map((a) => agentInput(a.id, DEFAULT_ZONES[(DEFAULT_ZONES.indexOf(a.zone as never) + 1) % 3]!, { influenceScore: 100 - a.influence })) },
          { tick: 2, agents: SAMPLE_AGENTS.filter((_, i) => i % 3 === 0).map((a) => agentInput(a.id, 'skeptics', { influenceScore: 1000 })) },
          { tick: 3, agents: [] },
          { tick: 4, agents: SAMPLE_AGENTS.slice(0, 10).map((a) => agentInput(a.id, 'neutral', { stance: 1 })) },
        ],
        { keyframeInterval: 3 },
      );
    });

    it('shows every agent when maxAgents covers them, whatever the strategy', async () => {
      const all = SAMPLE_AGENTS.map((a) => a.id).sort();
      for (const samplingStrategy of ['REPRESENTATIVE', 'RANDOM', 'TOP_INFLUENCE'] as const) {
        for (const maxAgents of [60, 61, 1000]) {
          const { ids } = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents, samplingStrategy } });
          expect.soft([...ids].sort(), `${samplingStrategy} ${maxAgents}`).toEqual(all);
        }
      }
    });

    it('TOP_INFLUENCE picks the highest influence scores at tick 0', async () => {
      for (const maxAgents of [1, 5, 17]) {
        const { ids } = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents, samplingStrategy: 'TOP_INFLUENCE' } });
        const expected = [...SAMPLE_AGENTS].sort((a, b) => b.influence - a.influence).slice(0, maxAgents).map((a) => a.id);
        expect.soft([...ids].sort(), `maxAgents ${maxAgents}`).toEqual(expected.sort());
      }
    });

    it('RANDOM is a stable draw (the same on every load) that is not simply the first agents', async () => {
      const first = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents: 8, samplingStrategy: 'RANDOM' } });
      const second = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents: 8, samplingStrategy: 'RANDOM' } });
      expect(first.id).not.toBe(second.id);
      expect(first.ids).toHaveLength(8);
      expect(new Set(first.ids).size).toBe(8);
      expect([...second.ids].sort()).toEqual([...first.ids].sort());
      expect([...first.ids].sort()).not.toEqual(SAMPLE_AGENTS.slice(0, 8).map((a) => a.id));
      const top = [...SAMPLE_AGENTS].sort((a, b) => b.influence - a.influence).slice(0, 8).map((a) => a.id);
      expect([...first.ids].sort()).not.toEqual(top.sort());
      for (const id of first.ids) expect(SAMPLE_AGENTS.some((a) => a.id === id)).toBe(true);
    });

    it('REPRESENTATIVE keeps the segment × zone proportions of tick 0 (largest remainder)', async () => {
      const counts = new Map<string, number>();
      for (const a of SAMPLE_AGENTS) counts.set(stratumOf(a), (counts.get(stratumOf(a)) ?? 0) + 1);
      // Spelled out for 12: exact shares 4.2, 1.8, 3, 2, 1 → 4, 2, 3, 2, 1.
      expect(Object.fromEntries(largestRemainder(counts, 60, 12))).toEqual({
        'urban/supporters': 4,
        'urban/neutral': 2,
        'rural/skeptics': 3,
        'rural/supporters': 2,
        'null/neutral': 1,
      });
      for (const maxAgents of [12, 7, 20, 33, 59]) {
        const first = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents, samplingStrategy: 'REPRESENTATIVE' } });
        const got = new Map<string, number>();
        for (const id of first.ids) {
          const agent = SAMPLE_AGENTS.find((a) => a.id === id)!;
          got.set(stratumOf(agent), (got.get(stratumOf(agent)) ?? 0) + 1);
        }
        const expected = new Map([...largestRemainder(counts, 60, maxAgents)].filter(([, n]) => n > 0));
        expect.soft(Object.fromEntries(got), `maxAgents ${maxAgents}`).toEqual(Object.fromEntries(expected));
        // Stable too.
        const again = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents, samplingStrategy: 'REPRESENTATIVE' } });
        expect.soft([...again.ids].sort(), `maxAgents ${maxAgents} again`).toEqual([...first.ids].sort());
      }
    });

    it('shows the same agents at every tick of a session, with their segment', async () => {
      for (const samplingStrategy of ['REPRESENTATIVE', 'RANDOM', 'TOP_INFLUENCE'] as const) {
        const { id, ids } = await sampleOf({ nodeId: 'smp', downsampling: { maxAgents: 12, samplingStrategy } });
        expect(ids).toHaveLength(12);
        for (const tick of [0, 1, 2, 3, 4]) {
          const state = await stateAt(id, tick);
          expect.soft(idsOf(state.agents), `${samplingStrategy} at tick ${tick}`).toEqual([...ids].sort());
          for (const agent of state.agents) expect(agent.segment).toBe(SAMPLE_AGENTS.find((a) => a.id === agent.id)!.segment);
          // Populations still count everyone.
          expect(Object.values(state.zonePopulations as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(60);
        }
        const seeked = dataOf(await seek(id, 4)).seekReplay.state;
        expect.soft(idsOf(seeked.agents), `${samplingStrategy} after seeking`).toEqual([...ids].sort());
        expect.soft(idsOf((await session(id))!.initialState.agents), `${samplingStrategy} reloaded`).toEqual([...ids].sort());
      }
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  // A randomised run: 50 agents, 23 ticks, keyframes every 4, zone moves, value changes, events with durations.
  const R_NODE = 'rnd';
  const R_AGENTS = 50;
  const R_TICKS = 23;
  const R_INTERVAL = 4;
  const ACTIONS = ['posted', 'shared', 'argued', 'donated'] as const;
  const R_MODEL = (() => {
    const random = seededRandom(20_261_123);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    const profiles: Profile[] = Array.from({ length: R_AGENTS }, (_, i) => ({ id: `r${String(i).padStart(2, '0')}`, segment: pick(['urban', 'rural', 'suburban', null]) }));
    const inputs: TickInput[] = [];
    const states: Map<string, ModelAgent>[] = [];
    const events: ModelEvent[] = [];
    const metrics: unknown[] = [];
    let current = new Map<string, ModelAgent>();
    const randomAgent = (id: string, previous?: ModelAgent): AgentTickInput => ({
      id,
      zone: previous && random() < 0.5 ? previous.zone : pick(DEFAULT_ZONES),
      stance: random() * 2 - 1,
      emotion: Math.round(random() * 100) / 100,
      influenceScore: previous && random() < 0.5 ? previous.influenceScore : random() * 10,
      ...(random() < 0.4 ? { recentAction: pick(ACTIONS) } : {}),
      ...(random() < 0.2 ? { reasoning: `thought ${Math.floor(random() * 1000)}` } : {}),
    });
    for (let tick = 0; tick < R_TICKS; tick++) {
      const reported = profiles.flatMap(({ id }): AgentTickInput[] => {
        const before = current.get(id);
        if (!before) return [randomAgent(id)];
        const roll = random();
        if (roll < 0.3) return [randomAgent(id, before)];
        return [];
      });
      const tickEvents: EventInput[] = [];
      for (let n = 0; n < 2; n++) {
        if (random() < 0.4) {
          const event = {
            id: `ev-${tick}-${n}`,
            type: pick(['rally', 'scandal', 'debate', 'ad']),
            name: random() < 0.5 ? `Event ${tick}.${n}` : null,
            intensity: random() < 0.5 ? 1 : Math.round(random() * 300) / 100,
            affectedZone: random() < 0.7 ? pick(DEFAULT_ZONES) : null,
            durationTicks: 1 + Math.floor(random() * 6),
          };
          tickEvents.push({
            id: event.id,
            type: event.type,
            ...(event.name ? { name: event.name } : {}),
            ...(event.intensity !== 1 ? { intensity: event.intensity } : {}),
            ...(event.affectedZone ? { affectedZone: event.affectedZone } : {}),
            ...(event.durationTicks > 1 ? { durationTicks: event.durationTicks } : {}),
          });
          events.push({ id: event.id, tick, endTick: tick + event.durationTicks, type: event.type, name: event.name, intensity: event.intensity, affectedZone: event.affectedZone });
        }
      }
      const tickMetrics = random() < 0.7 ? { tick, temperature: Math.round(random() * 1000) / 10, nested: { ok: random() < 0.5 } } : undefined;
      const next = new Map(current);
      for (const a of reported) next.set(a.id, { id: a.id, zone: a.zone, stance: a.stance, emotion: a.emotion, influenceScore: a.influenceScore, recentAction: a.recentAction ?? null });
      inputs.push({ tick, agents: reported, ...(tickMetrics ? { metrics: tickMetrics } : {}), ...(tickEvents.length ? { events: tickEvents } : {}) });
      states.push(next);
      metrics.push(tickMetrics ?? {});
      current = next;
    }
    return { profiles, inputs, states, events, metrics };
  })();

  /** What state(tick) must answer for a session showing `sample` (positions aside). */
  function expectedState(tick: number, sample: ReadonlySet<string>) {
    const all = R_MODEL.states[tick]!;
    const populations: Record<string, number> = {};
    for (const a of all.values()) populations[a.zone] = (populations[a.zone] ?? 0) + 1;
    return {
      tick,
      isKeyframe: tick % R_INTERVAL === 0,
      globalMetrics: R_MODEL.metrics[tick],
      zonePopulations: populations,
      agents: byId(
        [...all.values()]
          .filter((a) => sample.has(a.id))
          .map((a) => ({ ...a, segment: R_MODEL.profiles.find((p) => p.id === a.id)!.segment })),
      ),
      activeEvents: sortedEvents(R_MODEL.events.filter((e) => e.tick <= tick && e.endTick > tick)).map(({ endTick: _, ...e }) => e),
    };
  }
  const comparable = (state: WorldStateFieldsFragment) => ({ ...withoutPositions(state), activeEvents: sortedEvents(state.activeEvents) });
  const ALL_IDS = new Set(R_MODEL.profiles.map((p) => p.id));

  describe('state(tick) of a randomised run', () => {
    beforeAll(async () => {
      // The run must exercise what it checks: zone moves between keyframes, overlapping multi-tick events, quiet ticks.
      const moves = R_MODEL.states.slice(1).some((s, i) => [...s.values()].some((a) => R_MODEL.states[i]!.get(a.id)!.zone !== a.zone));
      expect(moves).toBe(true);
      expect(R_MODEL.events.filter((e) => e.endTick - e.tick > 1).length).toBeGreaterThan(3);
      expect(Array.from({ length: R_TICKS }, (_, t) => R_MODEL.events.filter((e) => e.tick <= t && e.endTick > t).length).some((n) => n >= 2)).toBe(true);
      expect(R_MODEL.metrics.some((m) => JSON.stringify(m) === '{}')).toBe(true);
      await recordRun(R_NODE, R_MODEL.profiles, R_MODEL.inputs, { keyframeInterval: R_INTERVAL, complete: false });
    });

    /** Checks every tick of a session showing all agents, and of one showing a sample, against the model. */
    async function checkEveryTick(all: string, sampled: string, sample: ReadonlySet<string>) {
      for (let tick = 0; tick < R_TICKS; tick++) {
        const state = await stateAt(all, tick);
        expect(comparable(state), `all agents at tick ${tick}`).toEqual(expectedState(tick, ALL_IDS));
        expectPlaced(state, 'default');
        // Deterministic: asked again, the same answer, positions included.
        expect(await stateAt(all, tick), `again at tick ${tick}`).toEqual(state);

        const part = await stateAt(sampled, tick);
        expect(comparable(part), `sample at tick ${tick}`).toEqual(expectedState(tick, sample));
        // The same positions in another session of the same layout.
        for (const agent of part.agents) expect(agent.position).toEqual(state.agents.find((a) => a.id === agent.id)!.position);
      }
    }

    it('matches the model at every tick while the run is still recording (states rebuilt from keyframes)', async () => {
      const all = await loaded({ nodeId: R_NODE, preloadTicks: 100 });
      expect(all.timeline).toMatchObject({ totalTicks: R_TICKS, keyframeInterval: R_INTERVAL, keyframeTicks: [0, 4, 8, 12, 16, 20] });
      expect(all.initialState.agents).toHaveLength(R_AGENTS);
      const sampled = await sampleOf({ nodeId: R_NODE, downsampling: { maxAgents: 15, samplingStrategy: 'RANDOM' } });
      expect(sampled.ids).toHaveLength(15);
      await checkEveryTick(all.id, sampled.id, new Set(sampled.ids));
    });

    it('matches the model at every tick once completed (states walked forward by preloading and seeking)', async () => {
      dataOf(await gateway.execute(CompleteSimulationDocument, { nodeId: R_NODE }, ingest));
      // The first load of the completed run walks ticks 0-22 forward into the cache.
      const all = await loaded({ nodeId: R_NODE, preloadTicks: 100 });
      const sampled = await sampleOf({ nodeId: R_NODE, downsampling: { maxAgents: 20 }, preloadTicks: 0 });
      expect(sampled.ids).toHaveLength(20);
      await checkEveryTick(all.id, sampled.id, new Set(sampled.ids));

      // Seeks answer the same states.
      for (const tick of [22, 0, 9, 13, 20, 3]) {
        const { state } = dataOf(await seek(sampled.id, tick, 5)).seekReplay;
        expect(comparable(state), `seek to ${tick}`).toEqual(expectedState(tick, new Set(sampled.ids)));
        expectPlaced(state, 'default');
      }
    });

    it('leaves agents out with includeAgents: false, the rest unchanged', async () => {
      const replay = await loaded({ nodeId: R_NODE });
      for (const tick of [0, 7, 22]) {
        const state = await stateAt(replay.id, tick, false);
        expect(state).toEqual({ ...expectedState(tick, new Set()), activeEvents: state.activeEvents });
        expect(sortedEvents(state.activeEvents)).toEqual(expectedState(tick, new Set()).activeEvents);
        expect((await stateAt(replay.id, tick, true)).agents).toHaveLength(R_AGENTS);
      }
    });

    it('answers INVALID_TICK with the valid range for a tick outside the timeline', async () => {
      const replay = await loaded({ nodeId: R_NODE });
      for (const tick of [-1, R_TICKS, R_TICKS + 100, -1000]) {
        const result = await stateResult(replay.id, tick);
        expect(extensionsOf(result), `tick ${tick}`).toMatchObject({ code: 'INVALID_TICK', validRange: { min: 0, max: R_TICKS - 1 } });
      }
      expect((await stateAt(replay.id, R_TICKS - 1)).tick).toBe(R_TICKS - 1);
    });
  });

  describe('contract details', () => {
    it("accepts state's layers argument (state(tick, includeAgents, layers: [String!]))", async () => {
      const replay = await loaded({ nodeId: 'lr-basic' });
      const result = await gateway.execute<{ replaySession: { state: { tick: number; agents: unknown[] } } | null }, { id: string }>(
        `query($id: ID!) { replaySession(id: $id) { state(tick: 2, layers: ["stance"]) { tick agents { id } } } }`,
        { id: replay.id },
        plain,
      );
      expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
      expect(result.data!.replaySession!.state.tick).toBe(2);
    });

    it('answers a client error, not an internal one, when a still-recording run enters a zone the layout lacks after loading', async () => {
      await recordRun('cd-stray-later', BASIC_PROFILES, basicTicks(2), { complete: false });
      const replay = await loaded({ nodeId: 'cd-stray-later' });
      dataOf(await gateway.execute(RecordTicksDocument, { nodeId: 'cd-stray-later', ticks: [{ tick: 2, agents: [agentInput('b1', 'mars')] }] }, ingest));
      // Ticks before the stray still replay.
      expect((await stateAt(replay.id, 1)).tick).toBe(1);
      const state = await stateResult(replay.id, 2);
      const seeked = await seek(replay.id, 2);
      for (const result of [state, seeked]) expect(codesOf(result), JSON.stringify(result.errors)).not.toContain('INTERNAL_SERVER_ERROR');
      // Loading it afresh names the zone.
      expect(extensionsOf(await load({ nodeId: 'cd-stray-later' }))).toMatchObject({ code: 'BAD_USER_INPUT', missingZones: ['mars'] });
    });
  });

  describe('seekReplay', () => {
    beforeAll(async () => {
      await recordRun('seek-basic', BASIC_PROFILES, basicTicks(11));
    });

    it('answers the tick, its state, the nearest keyframe and the preloaded range clamped to the last tick', async () => {
      const replay = await loaded({ nodeId: 'seek-basic' });
      const cases: [number, number | undefined, { start: number; end: number }, number][] = [
        [0, undefined, { start: 0, end: 10 }, 0],
        [3, undefined, { start: 3, end: 10 }, 0],
        [1, 4, { start: 1, end: 5 }, 0],
        [6, 2, { start: 6, end: 8 }, 5],
        [9, 0, { start: 9, end: 9 }, 5],
        [10, 100, { start: 10, end: 10 }, 10],
        [7, 10, { start: 7, end: 10 }, 5],
      ];
      for (const [tick, preloadRange, preloadedRange, nearestKeyframe] of cases) {
        const result = dataOf(await seek(replay.id, tick, preloadRange)).seekReplay;
        expect.soft({ tick: result.tick, preloadedRange: result.preloadedRange, nearestKeyframe: result.nearestKeyframe }, `seek ${tick}/${preloadRange}`).toEqual({
          tick,
          preloadedRange,
          nearestKeyframe,
        });
        expect.soft(result.state, `state at ${tick}`).toEqual(await stateAt(replay.id, tick));
      }
    });

    it('answers INVALID_TICK (with the valid range) for a tick outside the timeline, BAD_USER_INPUT for a bad preloadRange', async () => {
      const replay = await loaded({ nodeId: 'seek-basic' });
      for (const tick of [-1, 11, 500]) {
        expect.soft(extensionsOf(await seek(replay.id, tick)), `tick ${tick}`).toMatchObject({ code: 'INVALID_TICK', validRange: { min: 0, max: 10 } });
      }
      for (const preloadRange of [101, -1]) {
        expect.soft(codesOf(await seek(replay.id, 2, preloadRange)), `preloadRange ${preloadRange}`).toEqual(['BAD_USER_INPUT']);
      }
      expect(dataOf(await seek(replay.id, 2, 100)).seekReplay.preloadedRange).toEqual({ start: 2, end: 10 });
    });
  });

  describe('closeReplay and expiry', () => {
    beforeAll(async () => {
      await recordRun('close-basic', BASIC_PROFILES, basicTicks(6));
    });

    const lastUsedAt = async (id: string) => (await database.db.replaySession.findUnique({ where: { id } }))?.lastUsedAt ?? null;
    const setLastUsed = (id: string, at: Date) => database.db.replaySession.update({ where: { id }, data: { lastUsedAt: at } });
    const expectGone = async (id: string) => {
      expect(await session(id)).toBeNull();
      const seeked = extensionsOf(await seek(id, 1));
      expect(seeked.code).toBe('SESSION_NOT_FOUND');
      expect(seeked.hint).toEqual(expect.stringMatching(/\S/));
      expect(dataOf(await stateResult(id, 0)).replaySession).toBeNull();
    };

    it('closes a session once: true, then false; the session is gone afterwards', async () => {
      const replay = await loaded({ nodeId: 'close-basic' });
      const keep = await loaded({ nodeId: 'close-basic' });
      expect(dataOf(await close(replay.id)).closeReplay).toBe(true);
      expect(dataOf(await close(replay.id)).closeReplay).toBe(false);
      await expectGone(replay.id);
      // Other sessions of the run stay open.
      expect((await session(keep.id))!.id).toBe(keep.id);
      expect(dataOf(await close('never-was')).closeReplay).toBe(false);
      expect(dataOf(await seek(keep.id, 2)).seekReplay.tick).toBe(2);
    });

    it('expires a session 30 minutes after its last use: SESSION_NOT_FOUND with a hint, replaySession null', async () => {
      const replay = await loaded({ nodeId: 'close-basic' });
      await setLastUsed(replay.id, new Date(Date.now() - 31 * MINUTE));
      await expectGone(replay.id);
    });

    it('does not count an expired session as open: closing it answers false', async () => {
      const replay = await loaded({ nodeId: 'close-basic' });
      await setLastUsed(replay.id, new Date(Date.now() - 31 * MINUTE));
      expect(await session(replay.id)).toBeNull();
      expect(dataOf(await close(replay.id)).closeReplay).toBe(false);
    });

    it('keeps a session used within 30 minutes, and every use refreshes it', async () => {
      const replay = await loaded({ nodeId: 'close-basic' });
      const uses: [string, () => Promise<unknown>][] = [
        ['replaySession', async () => expect(await session(replay.id)).not.toBeNull()],
        ['seekReplay', async () => expect(dataOf(await seek(replay.id, 4)).seekReplay.tick).toBe(4)],
        ['state', async () => expect((await stateAt(replay.id, 2)).tick).toBe(2)],
      ];
      for (const [what, use] of uses) {
        const stale = new Date(Date.now() - 29 * MINUTE);
        await setLastUsed(replay.id, stale);
        const before = Date.now();
        await use();
        const refreshed = (await lastUsedAt(replay.id))!;
        expect(refreshed.getTime(), `${what} refreshes last use`).toBeGreaterThanOrEqual(before - 1000);
      }
      // 29 minutes plus a refresh each time: more than 30 minutes since loading, still open.
      await setLastUsed(replay.id, new Date(Date.now() - 29 * MINUTE));
      expect(dataOf(await seek(replay.id, 5)).seekReplay.tick).toBe(5);
      await setLastUsed(replay.id, new Date(Date.now() - 29 * MINUTE));
      expect(await session(replay.id)).not.toBeNull();
      // Past the limit even after all that use.
      await setLastUsed(replay.id, new Date(Date.now() - 30 * MINUTE - 5000));
      await expectGone(replay.id);
    });
  });

  describe('telemetry', () => {
    it('is never written by replaying: loading, reading states, seeking and closing leave the rows byte-identical', async () => {
      await recordRun('ro-run', R_MODEL.profiles, R_MODEL.inputs.slice(0, 12), { keyframeInterval: 3 });
      await recordRun('ro-running', BASIC_PROFILES, basicTicks(7), { complete: false });
      const { db } = database;
      const snapshot = async () =>
        rawJson(
          await Promise.all([
            db.$queryRawUnsafe('SELECT * FROM simulations ORDER BY node_id'),
            db.$queryRawUnsafe('SELECT * FROM simulation_ticks ORDER BY node_id, tick'),
            db.$queryRawUnsafe('SELECT * FROM simulation_transitions ORDER BY node_id, tick, agent_id'),
            db.$queryRawUnsafe('SELECT * FROM simulation_events ORDER BY node_id, event_id'),
          ]),
        );
      const before = await snapshot();
      expect(before).toContain('ro-run');

      for (const nodeId of ['ro-run', 'ro-running', R_NODE]) {
        for (const samplingStrategy of ['REPRESENTATIVE', 'RANDOM', 'TOP_INFLUENCE'] as const) {
          const replay = await loaded({ nodeId, downsampling: { maxAgents: 5, samplingStrategy }, preloadTicks: 100 });
          for (let tick = 0; tick < replay.timeline.totalTicks; tick += 2) await stateAt(replay.id, tick);
          dataOf(await seek(replay.id, replay.timeline.totalTicks - 1, 100));
          dataOf(await seek(replay.id, 1, 3));
          expect(codesOf(await seek(replay.id, replay.timeline.totalTicks))).toEqual(['INVALID_TICK']);
          expect(dataOf(await close(replay.id)).closeReplay).toBe(true);
        }
      }
      expect(codesOf(await load({ nodeId: 'ro-run', layoutProfile: 'quadrant' }))).toEqual(['BAD_USER_INPUT']);

      expect(await snapshot()).toBe(before);
    });
  });
});
