import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import {
  CompleteSimulationDocument,
  RecordSimulationDocument,
  RecordTicksDocument,
  SimulationDocument,
  type AgentProfileInput,
  type AgentTickInput,
  type EventInput,
  type RecordSimulationInput,
  type TickInput,
} from '../generated/graphql.js';
import { loadConfig } from '../../src/config.js';
import type { AgentTickState } from '../../src/domain/agent-states.js';
import { agentStatesAt } from '../../src/services/simulation-recordings.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { seededRandom } from '../support/random.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

const ZONES = ['supporters', 'neutral', 'skeptics'] as const;
const ACTIONS = ['posted', 'shared', 'argued', 'donated'] as const;

const AGENT_IDS = ['a1', 'a2', 'a3', 'a4'];
const PROFILES: AgentProfileInput[] = AGENT_IDS.map((id, i) => ({ id, personaName: `Persona ${i + 1}`, segment: i % 2 === 0 ? 'urban' : 'rural' }));
const INFLUENCE = [
  { from: 'a1', to: 'a2', strength: 0.75 },
  { from: 'a3', to: 'a1', strength: 0.125 },
];

const agent = (id: string, zone: string, overrides: Partial<AgentTickInput> = {}): AgentTickInput => ({
  id,
  zone,
  stance: 0,
  emotion: 0,
  influenceScore: 0,
  ...overrides,
});
/** Tick 0 of the small fixture: every agent, all in one zone. */
const tick0 = (zone = 'neutral'): TickInput => ({ tick: 0, metrics: { step: 0 }, agents: AGENT_IDS.map((id) => agent(id, zone)) });

/** An agent as the store keeps it: every optional field spelled out. */
const asStored = (input: AgentTickInput): AgentTickState => ({
  id: input.id,
  zone: input.zone,
  stance: input.stance,
  emotion: input.emotion,
  influenceScore: input.influenceScore,
  recentAction: input.recentAction ?? null,
  reasoning: input.reasoning ?? null,
});
const byId = <T extends { id: string }>(list: Iterable<T>) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

const extensionsOf = (result: ExecutionResult<unknown>) => {
  expect(result.errors, JSON.stringify(result.errors)).toHaveLength(1);
  return result.errors![0]!.extensions as Record<string, unknown>;
};

/**
 * Section 3 of the contract, the recording half: recordSimulation, recordTicks, completeSimulation and
 * simulation, with what each call stores checked in the store itself. Every test owns its node ids.
 */
describe('simulation recording', () => {
  let gateway: TestGateway;
  let database: Database;
  let admin: string;
  let ingest: string;
  let plain: string;

  beforeAll(async () => {
    gateway = await startGateway();
    const config = loadConfig({ DATABASE_URL: gateway.databaseUrl, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' });
    database = await openDatabase(config.store);
    [admin, ingest, plain] = await Promise.all([
      gateway.token({ sub: 'sim-admin', roles: ['admin'] }),
      gateway.token({ sub: 'sim-ingest', roles: ['ingest'] }),
      gateway.token({ sub: 'sim-viewer' }),
    ]);
  });
  afterAll(async () => {
    await database?.close();
    await gateway?.close();
  });

  const record = (input: RecordSimulationInput, token: string | null = ingest) => gateway.execute(RecordSimulationDocument, { input }, token);
  const recordTicks = (nodeId: string, ticks: TickInput[], token: string | null = ingest) => gateway.execute(RecordTicksDocument, { nodeId, ticks }, token);
  const complete = (nodeId: string, token: string | null = ingest) => gateway.execute(CompleteSimulationDocument, { nodeId }, token);
  const simulation = async (nodeId: string, token: string | null = plain) => dataOf(await gateway.execute(SimulationDocument, { nodeId }, token)).simulation;
  /** The small fixture: four agents, an influence graph, keyframes every 5 ticks unless told. */
  const recordFixture = async (nodeId: string, keyframeInterval?: number) =>
    dataOf(await record({ nodeId, agents: PROFILES, influence: INFLUENCE, ...(keyframeInterval ? { keyframeInterval } : {}) })).recordSimulation;
  const ticksOk = async (nodeId: string, ticks: TickInput[]) => dataOf(await recordTicks(nodeId, ticks)).recordTicks;

  /** Everything stored for a node, to tell that a refused call wrote nothing. */
  const stored = async (nodeId: string) => {
    const { db } = database;
    const [sim, ticks, transitions, events] = await Promise.all([
      db.simulation.findUnique({ where: { nodeId } }),
      db.simulationTick.findMany({ where: { nodeId }, orderBy: { tick: 'asc' } }),
      db.simulationTransition.findMany({ where: { nodeId }, orderBy: [{ tick: 'asc' }, { agentId: 'asc' }] }),
      db.simulationEvent.findMany({ where: { nodeId }, orderBy: [{ tick: 'asc' }, { eventId: 'asc' }] }),
    ]);
    return { sim, ticks, transitions, events };
  };

  describe('recordSimulation', () => {
    it('starts a PENDING run with no ticks, keyframes every 5 ticks by default, and the agent count', async () => {
      const created = await recordFixture('rs-fields');
      expect(created).toEqual({ nodeId: 'rs-fields', status: 'PENDING', totalTicks: 0, keyframeInterval: 5, agentCount: 4 });
      expect(await simulation('rs-fields')).toEqual(created);

      const row = (await stored('rs-fields')).sim!;
      expect(row.agents).toEqual(PROFILES);
      expect(row.influence).toEqual(INFLUENCE);

      const other = dataOf(await record({ nodeId: 'rs-fields-kf', keyframeInterval: 12, agents: [{ id: 'solo' }] })).recordSimulation;
      expect(other).toEqual({ nodeId: 'rs-fields-kf', status: 'PENDING', totalTicks: 0, keyframeInterval: 12, agentCount: 1 });
      expect((await stored('rs-fields-kf')).sim!.agents).toEqual([{ id: 'solo', personaName: null, segment: null }]);
    });

    it('answers the same definition again with the same row and no error, also once ticks are recorded', async () => {
      const first = await recordFixture('rs-again');
      const before = await stored('rs-again');
      // The default interval spelled out is the same definition.
      for (const keyframeInterval of [undefined, 5]) {
        const again = await record({ nodeId: 'rs-again', agents: PROFILES, influence: INFLUENCE, keyframeInterval });
        expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
        expect(again.data!.recordSimulation).toEqual(first);
      }
      expect(await stored('rs-again')).toEqual(before);

      await ticksOk('rs-again', [tick0(), { tick: 1, agents: [agent('a1', 'skeptics')] }]);
      const running = await record({ nodeId: 'rs-again', agents: PROFILES, influence: INFLUENCE });
      expect(running.errors, JSON.stringify(running.errors)).toBeUndefined();
      expect(running.data!.recordSimulation).toEqual({ ...first, status: 'RUNNING', totalTicks: 2 });
    });

    it('refuses another definition for a recorded node with CONFLICT and keeps the first', async () => {
      await recordFixture('rs-conflict');
      const before = await stored('rs-conflict');
      const variants: [string, RecordSimulationInput][] = [
        ['keyframeInterval', { nodeId: 'rs-conflict', agents: PROFILES, influence: INFLUENCE, keyframeInterval: 4 }],
        ['an extra agent', { nodeId: 'rs-conflict', agents: [...PROFILES, { id: 'a5' }], influence: INFLUENCE }],
        ['an agent fewer', { nodeId: 'rs-conflict', agents: PROFILES.slice(1), influence: [] }],
        ['a segment', { nodeId: 'rs-conflict', agents: [{ ...PROFILES[0]!, segment: 'suburban' }, ...PROFILES.slice(1)], influence: INFLUENCE }],
        ['no influence', { nodeId: 'rs-conflict', agents: PROFILES }],
        ['a strength', { nodeId: 'rs-conflict', agents: PROFILES, influence: [INFLUENCE[0]!, { ...INFLUENCE[1]!, strength: 0.5 }] }],
      ];
      for (const [what, input] of variants) {
        const result = await record(input);
        expect.soft(codesOf(result), what).toEqual(['CONFLICT']);
      }
      expect(await stored('rs-conflict')).toEqual(before);
    });

    it('refuses bad definitions with BAD_USER_INPUT and records nothing', async () => {
      const cases: [string, RecordSimulationInput][] = [
        ['no agents', { nodeId: 'rs-bad', agents: [] }],
        ['duplicate agent ids', { nodeId: 'rs-bad', agents: [{ id: 'a1' }, { id: 'a2' }, { id: 'a1' }] }],
        ['an edge from an unknown agent', { nodeId: 'rs-bad', agents: PROFILES, influence: [{ from: 'ghost', to: 'a1', strength: 1 }] }],
        ['an edge to an unknown agent', { nodeId: 'rs-bad', agents: PROFILES, influence: [{ from: 'a1', to: 'ghost', strength: 1 }] }],
        ['keyframeInterval 0', { nodeId: 'rs-bad', agents: PROFILES, keyframeInterval: 0 }],
        ['a negative keyframeInterval', { nodeId: 'rs-bad', agents: PROFILES, keyframeInterval: -5 }],
        ['a blank node id', { nodeId: ' ', agents: PROFILES }],
        ['a blank agent id', { nodeId: 'rs-bad', agents: [{ id: '' }] }],
      ];
      for (const [what, input] of cases) {
        expect.soft(codesOf(await record(input)), what).toEqual(['BAD_USER_INPUT']);
      }
      expect(await simulation('rs-bad')).toBeNull();
      expect(await database.db.simulation.count({ where: { nodeId: { in: ['rs-bad', ' '] } } })).toBe(0);
    });

    it('is for ingest and admin tokens only', async () => {
      const input = { nodeId: 'rs-access', agents: PROFILES };
      const none = await record(input, null);
      expect(codesOf(none)).toEqual(['UNAUTHENTICATED']);
      expect(codesOf(await record(input, plain))).toEqual(['FORBIDDEN']);
      expect(await simulation('rs-access')).toBeNull();

      expect(dataOf(await record(input, admin)).recordSimulation.status).toBe('PENDING');
      expect(dataOf(await record({ ...input, nodeId: 'rs-access-2' }, ingest)).recordSimulation.status).toBe('PENDING');
      expect(await simulation('rs-access-2')).not.toBeNull();
    });

    it('answers concurrent recordings of one new node with the same definition without an error', async () => {
      const results = await Promise.all(Array.from({ length: 6 }, () => record({ nodeId: 'rs-race', agents: PROFILES, influence: INFLUENCE })));
      expect(results.map(codesOf)).toEqual(results.map(() => []));
      for (const result of results) {
        expect(result.data!.recordSimulation).toEqual({ nodeId: 'rs-race', status: 'PENDING', totalTicks: 0, keyframeInterval: 5, agentCount: 4 });
      }
    });
  });

  describe('recordTicks', () => {
    // The digest of every stored tick is part of the data: a resend is compared against it, whichever version of
    // the gateway stored it. It is fixed as the SHA-256 of the tick's canonical JSON (keys sorted at every depth,
    // defaults spelled out, agents and events in id order), computed here independently of the gateway.
    it('stores each tick’s digest as the SHA-256 of its canonical JSON', async () => {
      const canonical = (value: unknown): string =>
        Array.isArray(value)
          ? `[${value.map(canonical).join(',')}]`
          : value !== null && typeof value === 'object'
            ? `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`
            : JSON.stringify(value);
      await recordFixture('rt-digest');
      const awkward = 'quote " backslash \\ tab \t newline \n émoji 🛰 \u2028';
      const ticks: TickInput[] = [
        {
          tick: 0,
          metrics: { zeta: [3, { b: 1, a: -0 }], alpha: 'x' },
          events: [{ id: 'e2', type: 'rally', affectedZone: 'neutral' }, { id: 'e1', type: 'storm', name: awkward, intensity: 0.5, durationTicks: 3 }],
          agents: [
            agent('a3', awkward, { stance: -0, emotion: 1e-7, influenceScore: 1e21, reasoning: awkward }),
            agent('a1', 'neutral', { stance: 0.1 + 0.2, emotion: -1, influenceScore: 123456789.125, recentAction: 'posted' }),
            agent('a4', 'skeptics'),
            agent('a2', 'supporters', { stance: Number.MIN_VALUE, emotion: Number.MAX_SAFE_INTEGER }),
          ],
        },
        { tick: 1, agents: [agent('a2', 'neutral', { stance: 0.5 })] },
      ];
      await ticksOk('rt-digest', ticks);
      const expected = ticks.map((input) =>
        createHash('sha256')
          .update(canonical({
            agents: byId(input.agents.map(asStored)),
            events: byId((input.events ?? []).map((e) => ({ durationTicks: 1, intensity: 1, name: null, affectedZone: null, ...e }))),
            metrics: input.metrics ?? {},
            tick: input.tick,
          }))
          .digest('hex'),
      );
      expect((await stored('rt-digest')).ticks.map((row) => row.digest)).toEqual(expected);
    });

    it('takes a run from PENDING to RUNNING, and completeSimulation to COMPLETED', async () => {
      await recordFixture('rt-life');
      expect((await simulation('rt-life'))!.status).toBe('PENDING');

      expect(await ticksOk('rt-life', [tick0()])).toEqual({ nodeId: 'rt-life', recordedTicks: 1, skippedTicks: 0, totalTicks: 1, status: 'RUNNING' });
      expect(await simulation('rt-life')).toMatchObject({ status: 'RUNNING', totalTicks: 1 });

      const more = await ticksOk('rt-life', [
        { tick: 1, agents: [agent('a2', 'supporters')] },
        { tick: 2, agents: [] },
      ]);
      expect(more).toEqual({ nodeId: 'rt-life', recordedTicks: 2, skippedTicks: 0, totalTicks: 3, status: 'RUNNING' });

      const done = dataOf(await complete('rt-life')).completeSimulation;
      expect(done).toEqual({ nodeId: 'rt-life', status: 'COMPLETED', totalTicks: 3, keyframeInterval: 5, agentCount: 4 });
      expect(await simulation('rt-life')).toEqual(done);
    });

    it('needs every agent at tick 0; later ticks may report only the agents that changed', async () => {
      await recordFixture('rt-tick0');
      const missing = await recordTicks('rt-tick0', [{ tick: 0, agents: AGENT_IDS.slice(0, 3).map((id) => agent(id, 'neutral')) }]);
      expect(codesOf(missing)).toEqual(['BAD_USER_INPUT']);
      expect(await stored('rt-tick0')).toMatchObject({ sim: { status: 'PENDING', totalTicks: 0 }, ticks: [] });

      expect((await ticksOk('rt-tick0', [tick0(), { tick: 1, agents: [agent('a3', 'skeptics')] }, { tick: 2, agents: [] }])).totalTicks).toBe(3);
      const { ticks } = await stored('rt-tick0');
      expect(ticks.map((t) => (t.agents as unknown as AgentTickState[]).map((a) => a.id).sort())).toEqual([AGENT_IDS, ['a3'], []]);
      // Rebuilt states hold every agent, the unreported ones as they were.
      const states = await agentStatesAt(database.db, { nodeId: 'rt-tick0', keyframeInterval: 5 }, 2);
      expect(byId(states.values())).toEqual([
        asStored(agent('a1', 'neutral')),
        asStored(agent('a2', 'neutral')),
        asStored(agent('a3', 'skeptics')),
        asStored(agent('a4', 'neutral')),
      ]);
    });

    it('appends in order: a gap is BAD_USER_INPUT with the expected tick, and nothing of the call is written', async () => {
      await recordFixture('rt-gap');
      const first = extensionsOf(await recordTicks('rt-gap', [{ ...tick0(), tick: 1 }]));
      expect(first).toMatchObject({ code: 'BAD_USER_INPUT', expectedTick: 0 });

      await ticksOk('rt-gap', [tick0(), { tick: 1, agents: [] }]);
      const before = await stored('rt-gap');
      expect(extensionsOf(await recordTicks('rt-gap', [{ tick: 3, agents: [] }]))).toMatchObject({ code: 'BAD_USER_INPUT', expectedTick: 2 });
      expect(extensionsOf(await recordTicks('rt-gap', [{ tick: 2, agents: [agent('a1', 'skeptics')] }, { tick: 4, agents: [] }]))).toMatchObject({
        code: 'BAD_USER_INPUT',
        expectedTick: 3,
      });
      expect(await stored('rt-gap')).toEqual(before);
    });

    /** Ticks 0-3 of a small run with events, as a client sends them. */
    const smallRun = (): TickInput[] => [
      { tick: 0, metrics: { step: 0, mood: 'calm' }, agents: AGENT_IDS.map((id, i) => agent(id, ZONES[i % 3]!, { stance: i / 10, recentAction: 'joined' })) },
      {
        tick: 1,
        metrics: { step: 1 },
        agents: [agent('a1', 'skeptics', { stance: -0.5 }), agent('a2', 'supporters', { emotion: 0.25, reasoning: 'convinced' })],
        events: [
          { id: 'e-rally', type: 'rally', name: 'Town rally', intensity: 0.8, affectedZone: 'supporters', durationTicks: 3 },
          { id: 'e-news', type: 'news' },
        ],
      },
      { tick: 2, agents: [agent('a4', 'neutral', { influenceScore: 2 })] },
      { tick: 3, metrics: { step: 3 }, agents: [agent('a3', 'supporters'), agent('a1', 'neutral', { recentAction: 'read' })], events: [{ id: 'e-ad', type: 'ad', affectedZone: 'neutral' }] },
    ];
    /** The same ticks spelled in another order: agents and events listed backwards. */
    const reordered = (ticks: TickInput[]) => ticks.map((t) => ({ ...t, agents: [...t.agents].reverse(), ...(t.events ? { events: [...t.events].reverse() } : {}) }));

    it('skips ticks sent again identically (even with agents and events in another order) and writes nothing', async () => {
      await recordFixture('rt-resend');
      const run = smallRun();
      expect(await ticksOk('rt-resend', run)).toEqual({ nodeId: 'rt-resend', recordedTicks: 4, skippedTicks: 0, totalTicks: 4, status: 'RUNNING' });
      const before = await stored('rt-resend');

      expect(await ticksOk('rt-resend', run)).toEqual({ nodeId: 'rt-resend', recordedTicks: 0, skippedTicks: 4, totalTicks: 4, status: 'RUNNING' });
      expect(await ticksOk('rt-resend', reordered(run))).toEqual({ nodeId: 'rt-resend', recordedTicks: 0, skippedTicks: 4, totalTicks: 4, status: 'RUNNING' });
      expect(await ticksOk('rt-resend', reordered(run).slice(2, 3))).toMatchObject({ recordedTicks: 0, skippedTicks: 1 });
      expect(await stored('rt-resend')).toEqual(before);

      // Overlapping the end: the recorded ones skipped, the new one appended.
      const next = { tick: 4, agents: [agent('a2', 'neutral')] };
      expect(await ticksOk('rt-resend', [...run.slice(2), next])).toEqual({ nodeId: 'rt-resend', recordedTicks: 1, skippedTicks: 2, totalTicks: 5, status: 'RUNNING' });
      const after = await stored('rt-resend');
      expect(after.ticks.slice(0, 4)).toEqual(before.ticks);
      expect(after.ticks.map((t) => t.tick)).toEqual([0, 1, 2, 3, 4]);
    });

    it('skips a resend that spells the same tick differently: explicit nulls, defaults spelled out, an empty list', async () => {
      await recordFixture('rt-resend-nulls');
      const run = smallRun();
      await ticksOk('rt-resend-nulls', run);
      const before = await stored('rt-resend-nulls');
      const variants: [string, (t: TickInput) => TickInput][] = [
        ['agent recentAction/reasoning: null', (t) => ({ ...t, agents: t.agents.map((a) => ({ recentAction: null, reasoning: null, ...a })) })],
        ['event name/affectedZone: null', (t) => (t.events ? { ...t, events: t.events.map((e) => ({ name: null, affectedZone: null, ...e })) } : t)],
        ['event durationTicks/intensity: null (their defaults)', (t) => (t.events ? { ...t, events: t.events.map((e) => ({ durationTicks: null, intensity: null, ...e })) } : t)],
        ['events: [] for a tick without events', (t) => ({ events: [], ...t })],
        ['events: null for a tick without events', (t) => ({ events: null, ...t })],
        ['metrics: null where none were sent', (t) => ({ metrics: null, ...t })],
        ['metrics: {} where none were sent', (t) => ({ metrics: {}, ...t })],
      ];
      for (const [what, spell] of variants) {
        const result = await recordTicks('rt-resend-nulls', run.map(spell));
        expect.soft(result.errors, `${what}: ${JSON.stringify(result.errors)}`).toBeUndefined();
        expect.soft(result.data?.recordTicks, what).toMatchObject({ recordedTicks: 0, skippedTicks: 4 });
      }
      expect(await stored('rt-resend-nulls')).toEqual(before);
    });

    it('skips a resend whose metrics object lists the same keys in another order', async () => {
      await recordFixture('rt-resend-keys');
      await ticksOk('rt-resend-keys', [{ ...tick0(), metrics: { supporters: 1, neutral: 2, mood: { a: 1, b: 2 } } }]);
      const result = await recordTicks('rt-resend-keys', [{ ...tick0(), metrics: { mood: { b: 2, a: 1 }, neutral: 2, supporters: 1 } }]);
      expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
      expect(result.data!.recordTicks).toMatchObject({ recordedTicks: 0, skippedTicks: 1 });
    });

    it('refuses a different tick for a recorded number with CONFLICT and the tick, writing nothing of the call', async () => {
      await recordFixture('rt-conflict');
      const run = smallRun();
      await ticksOk('rt-conflict', run);
      const before = await stored('rt-conflict');

      const changed: [string, TickInput][] = [
        ['an agent state', { ...run[2]!, agents: [agent('a4', 'neutral', { influenceScore: 2.5 })] }],
        ['an agent more', { ...run[2]!, agents: [...run[2]!.agents, agent('a1', 'skeptics', { stance: -0.5 })] }],
        ['metrics', { ...run[2]!, metrics: { step: 2 } }],
        ['an event', { ...run[2]!, events: [{ id: 'e-late', type: 'storm' }] }],
      ];
      for (const [what, tick] of changed) {
        const ext = extensionsOf(await recordTicks('rt-conflict', [tick]));
        expect.soft(ext, what).toMatchObject({ code: 'CONFLICT', tick: 2 });
      }
      const intensity = extensionsOf(await recordTicks('rt-conflict', [{ ...run[1]!, events: [{ ...run[1]!.events![0]!, intensity: 0.9 }, run[1]!.events![1]!] }]));
      expect(intensity).toMatchObject({ code: 'CONFLICT', tick: 1 });

      // Atomic: identical resends, one conflicting tick, then new ticks; none of it is stored.
      const mixed = await recordTicks('rt-conflict', [
        run[1]!,
        { ...run[2]!, agents: [agent('a4', 'skeptics')] },
        run[3]!,
        { tick: 4, agents: [agent('a1', 'supporters')], events: [{ id: 'e-new', type: 'rally', affectedZone: 'supporters' }] },
        { tick: 5, agents: [agent('a2', 'skeptics')] },
      ]);
      expect(extensionsOf(mixed)).toMatchObject({ code: 'CONFLICT', tick: 2 });
      expect(await stored('rt-conflict')).toEqual(before);
    });

    it('stores nothing of a batch when a later tick in it is refused', async () => {
      await recordFixture('rt-atomic');
      await ticksOk('rt-atomic', [tick0()]);
      const before = await stored('rt-atomic');
      const result = await recordTicks('rt-atomic', [
        { tick: 1, agents: [agent('a1', 'supporters')], events: [{ id: 'e1', type: 'rally', affectedZone: 'supporters' }] },
        { tick: 2, agents: [agent('a2', 'supporters')] },
        { tick: 3, agents: [agent('ghost', 'supporters')] },
      ]);
      expect(codesOf(result)).toEqual(['BAD_USER_INPUT']);
      expect(await stored('rt-atomic')).toEqual(before);
    });

    it('refuses new ticks once the run is COMPLETED, with the node status', async () => {
      await recordFixture('rt-completed');
      const run = smallRun();
      await ticksOk('rt-completed', run);
      expect(dataOf(await complete('rt-completed')).completeSimulation.status).toBe('COMPLETED');
      const before = await stored('rt-completed');

      const late = extensionsOf(await recordTicks('rt-completed', [{ tick: 4, agents: [agent('a1', 'supporters')] }]));
      expect(late).toMatchObject({ code: 'CONFLICT', nodeStatus: 'COMPLETED' });
      // A different recorded tick is still a conflict on that tick; an identical one still a no-op.
      expect(extensionsOf(await recordTicks('rt-completed', [{ ...run[3]!, metrics: {} }]))).toMatchObject({ code: 'CONFLICT', tick: 3 });
      expect(await ticksOk('rt-completed', run.slice(3))).toEqual({ nodeId: 'rt-completed', recordedTicks: 0, skippedTicks: 1, totalTicks: 4, status: 'COMPLETED' });
      expect(codesOf(await recordTicks('rt-completed', [...run.slice(3), { tick: 4, agents: [] }]))).toEqual(['CONFLICT']);
      expect(await stored('rt-completed')).toEqual(before);
    });

    it('refuses malformed ticks with BAD_USER_INPUT and writes nothing', async () => {
      await recordFixture('rt-bad');
      await ticksOk('rt-bad', [tick0(), { tick: 1, agents: [], events: [{ id: 'e-used', type: 'news' }] }]);
      const before = await stored('rt-bad');
      const cases: [string, TickInput[]][] = [
        ['an unknown agent id', [{ tick: 2, agents: [agent('ghost', 'neutral')] }]],
        ['an agent reported twice', [{ tick: 2, agents: [agent('a1', 'neutral'), agent('a2', 'neutral'), agent('a1', 'skeptics')] }]],
        ['metrics a number', [{ tick: 2, metrics: 5, agents: [] }]],
        ['metrics a string', [{ tick: 2, metrics: 'fine', agents: [] }]],
        ['metrics an array', [{ tick: 2, metrics: [1, 2], agents: [] }]],
        ['metrics a boolean', [{ tick: 2, metrics: true, agents: [] }]],
        ['a repeated tick', [{ tick: 2, agents: [] }, { tick: 2, agents: [] }]],
        ['decreasing ticks', [{ tick: 3, agents: [] }, { tick: 2, agents: [] }]],
        ['a negative tick', [{ tick: -1, agents: [] }]],
        ['no ticks', []],
        ['1001 ticks', Array.from({ length: 1001 }, (_, i) => ({ tick: 2 + i, agents: [] }))],
        ['an event id twice in one tick', [{ tick: 2, agents: [], events: [{ id: 'e2', type: 'a' }, { id: 'e2', type: 'b' }] }]],
        ['an event id twice in one call', [{ tick: 2, agents: [], events: [{ id: 'e3', type: 'a' }] }, { tick: 3, agents: [], events: [{ id: 'e3', type: 'a' }] }]],
        ['an event id recorded before', [{ tick: 2, agents: [], events: [{ id: 'e-used', type: 'news' }] }]],
        ['durationTicks 0', [{ tick: 2, agents: [], events: [{ id: 'e4', type: 'a', durationTicks: 0 }] }]],
        ['durationTicks negative', [{ tick: 2, agents: [], events: [{ id: 'e5', type: 'a', durationTicks: -2 }] }]],
        ['a blank zone', [{ tick: 2, agents: [agent('a1', ' ')] }]],
        ['a blank event type', [{ tick: 2, agents: [], events: [{ id: 'e6', type: '' }] }]],
        ['a NUL in a recent action', [{ tick: 2, agents: [agent('a1', 'neutral', { recentAction: 'moved\u0000' })] }]],
        ['a NUL in reasoning', [{ tick: 2, agents: [agent('a1', 'neutral', { reasoning: '\u0000' })] }]],
        ['a NUL in metrics', [{ tick: 2, metrics: { note: 'a\u0000b' }, agents: [] }]],
        ['a NUL in an event name', [{ tick: 2, agents: [], events: [{ id: 'e7', type: 'a', name: '\u0000' }] }]],
      ];
      for (const [what, ticks] of cases) {
        const result = await recordTicks('rt-bad', ticks);
        expect.soft(codesOf(result), what).toEqual(['BAD_USER_INPUT']);
      }
      expect(await stored('rt-bad')).toEqual(before);
      // 1000 ticks is the limit, not over it.
      const thousand = await ticksOk('rt-bad', Array.from({ length: 1000 }, (_, i) => ({ tick: 2 + i, agents: [] })));
      expect(thousand).toMatchObject({ recordedTicks: 1000, totalTicks: 1002 });
    });

    it('says which input of a large batch does not coerce (BAD_USER_INPUT with its path), and writes nothing', async () => {
      await recordFixture('rt-coerce');
      const before = await stored('rt-coerce');
      const ticks = [tick0(), { tick: 1, agents: [agent('a1', 'neutral'), { ...agent('a2', 'neutral'), stance: 'high' as unknown as number }] }];
      const result = await recordTicks('rt-coerce', ticks);
      expect(codesOf(result)).toEqual(['BAD_USER_INPUT']);
      expect(result.errors?.[0]?.message).toContain('ticks[1].agents[1].stance');
      expect(await stored('rt-coerce')).toEqual(before);
    });

    it('answers NOT_FOUND for an unknown node, and is for ingest and admin tokens only', async () => {
      expect(codesOf(await recordTicks('rt-nobody', [tick0()]))).toEqual(['NOT_FOUND']);
      expect(await simulation('rt-nobody')).toBeNull();

      await recordFixture('rt-access');
      expect(codesOf(await recordTicks('rt-access', [tick0()], null))).toEqual(['UNAUTHENTICATED']);
      expect(codesOf(await recordTicks('rt-access', [tick0()], plain))).toEqual(['FORBIDDEN']);
      expect((await stored('rt-access')).ticks).toEqual([]);
      expect((await recordTicks('rt-access', [tick0()], admin)).data?.recordTicks.recordedTicks).toBe(1);
      expect((await recordTicks('rt-access', [{ tick: 1, agents: [] }], ingest)).data?.recordTicks.recordedTicks).toBe(1);
    });

    it('records one copy when the same batch is sent concurrently', async () => {
      await recordFixture('rt-race');
      const run = smallRun();
      const results = await Promise.all(Array.from({ length: 4 }, () => recordTicks('rt-race', run)));
      const payloads = results.map((r) => dataOf(r).recordTicks);
      expect(payloads.map((p) => p.recordedTicks).sort()).toEqual([0, 0, 0, 4]);
      expect(payloads.every((p) => p.totalTicks === 4 && p.recordedTicks + p.skippedTicks === 4)).toBe(true);
      expect((await stored('rt-race')).ticks).toHaveLength(4);
    });
  });

  describe('what is stored', () => {
    it('derives transitions with their reasons (recent action, else an event in the destination zone, else null) and keeps events', async () => {
      await recordFixture('st-reasons');
      await ticksOk('st-reasons', [
        tick0(),
        {
          tick: 1,
          agents: [agent('a1', 'supporters', { recentAction: 'donated' }), agent('a2', 'supporters'), agent('a3', 'skeptics')],
          events: [
            { id: 'rally', type: 'rally', name: 'Town rally', intensity: 0.5, affectedZone: 'supporters', durationTicks: 3 },
            { id: 'news', type: 'news' },
          ],
        },
      ]);
      // Later calls: the rally (ticks 1-3) still counts at tick 2, no longer at tick 4; an event without a zone never counts.
      await ticksOk('st-reasons', [{ tick: 2, agents: [agent('a4', 'supporters')] }]);
      await ticksOk('st-reasons', [
        { tick: 3, agents: [agent('a1', 'neutral')], events: [{ id: 'calm', type: 'calm' }] },
        { tick: 4, agents: [agent('a3', 'supporters'), agent('a2', 'neutral', { recentAction: 'left' })], events: [{ id: 'townhall', type: 'townhall', affectedZone: 'neutral', durationTicks: 2 }] },
        { tick: 5, agents: [agent('a4', 'neutral')] },
        // Stance only: no transition, even with a recent action and an event in its zone.
        { tick: 6, agents: [agent('a4', 'neutral', { stance: 1, recentAction: 'argued' })] },
      ]);

      const { transitions, events } = await stored('st-reasons');
      expect(transitions.map(({ tick, agentId, fromZone, toZone, reason }) => ({ tick, agentId, fromZone, toZone, reason }))).toEqual([
        { tick: 1, agentId: 'a1', fromZone: 'neutral', toZone: 'supporters', reason: 'donated' },
        { tick: 1, agentId: 'a2', fromZone: 'neutral', toZone: 'supporters', reason: 'rally' },
        { tick: 1, agentId: 'a3', fromZone: 'neutral', toZone: 'skeptics', reason: null },
        { tick: 2, agentId: 'a4', fromZone: 'neutral', toZone: 'supporters', reason: 'rally' },
        { tick: 3, agentId: 'a1', fromZone: 'supporters', toZone: 'neutral', reason: null },
        { tick: 4, agentId: 'a2', fromZone: 'supporters', toZone: 'neutral', reason: 'left' },
        { tick: 4, agentId: 'a3', fromZone: 'skeptics', toZone: 'supporters', reason: null },
        { tick: 5, agentId: 'a4', fromZone: 'supporters', toZone: 'neutral', reason: 'townhall' },
      ]);
      expect(events.map(({ eventId, tick, endTick, type, name, intensity, affectedZone }) => ({ eventId, tick, endTick, type, name, intensity, affectedZone }))).toEqual([
        { eventId: 'news', tick: 1, endTick: 2, type: 'news', name: null, intensity: 1, affectedZone: null },
        { eventId: 'rally', tick: 1, endTick: 4, type: 'rally', name: 'Town rally', intensity: 0.5, affectedZone: 'supporters' },
        { eventId: 'calm', tick: 3, endTick: 4, type: 'calm', name: null, intensity: 1, affectedZone: null },
        { eventId: 'townhall', tick: 4, endTick: 6, type: 'townhall', name: null, intensity: 1, affectedZone: 'neutral' },
      ]);
    });

    it('keeps keyframes whole and only changes between them, and rebuilds every tick of a random run exactly', async () => {
      const nodeId = 'st-random';
      const AGENTS = 50;
      const TICKS = 30;
      const INTERVAL = 4;
      const random = seededRandom(20_261_122);
      const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
      const ids = Array.from({ length: AGENTS }, (_, i) => `agent-${String(i).padStart(2, '0')}`);
      dataOf(await record({ nodeId, keyframeInterval: INTERVAL, agents: ids.map((id) => ({ id, segment: pick(['urban', 'rural', 'suburban']) })) }));

      // The model: every agent's state after each tick, and what each tick should store and derive.
      const inputs: TickInput[] = [];
      const fullStates: Map<string, AgentTickState>[] = [];
      const expectedStored: AgentTickState[][] = [];
      const expectedTransitions: { tick: number; agentId: string; fromZone: string; toZone: string; reason: string | null }[] = [];
      const expectedEvents: { eventId: string; tick: number; endTick: number; type: string; affectedZone: string | null }[] = [];
      let states = new Map<string, AgentTickState>();
      const randomAgent = (id: string, previous?: AgentTickState): AgentTickInput => ({
        id,
        zone: previous && random() < 0.6 ? previous.zone : pick(ZONES),
        stance: random() * 2 - 1,
        emotion: Math.round(random() * 100) / 100,
        influenceScore: previous && random() < 0.5 ? previous.influenceScore : random() * 10,
        ...(random() < 0.4 ? { recentAction: pick(ACTIONS) } : {}),
        ...(random() < 0.2 ? { reasoning: `thought ${Math.floor(random() * 1000)}` } : {}),
      });
      for (let tick = 0; tick < TICKS; tick++) {
        const reported: AgentTickInput[] =
          tick === 0
            ? ids.map((id) => randomAgent(id))
            : ids.flatMap((id) => {
                const roll = random();
                const before = states.get(id)!;
                if (roll < 0.25) return [randomAgent(id, before)];
                // Reported though unchanged: stored only at keyframes.
                if (roll < 0.32) return [{ ...before } as AgentTickInput];
                return [];
              });
        // At most one zone event active per zone at a time, so the reason is unambiguous.
        const events: EventInput[] = [];
        if (random() < 0.35) {
          const free = ZONES.filter((zone) => !expectedEvents.some((e) => e.affectedZone === zone && e.tick <= tick && e.endTick > tick));
          const affectedZone = free.length > 0 && random() < 0.8 ? pick(free) : null;
          const durationTicks = 1 + Math.floor(random() * 5);
          const type = pick(['rally', 'scandal', 'debate', 'ad']);
          events.push({ id: `ev-${tick}`, type, ...(affectedZone ? { affectedZone } : {}), ...(durationTicks > 1 ? { durationTicks } : {}) });
          expectedEvents.push({ eventId: `ev-${tick}`, tick, endTick: tick + durationTicks, type, affectedZone });
        }
        const eventTypeIn = (zone: string) => expectedEvents.find((e) => e.affectedZone === zone && e.tick <= tick && e.endTick > tick)?.type ?? null;

        const next = new Map(states);
        for (const input of reported) next.set(input.id, asStored(input));
        const changed = [...next.values()].filter((s) => JSON.stringify(s) !== JSON.stringify(states.get(s.id)));
        for (const now of changed) {
          const before = states.get(now.id);
          if (before && before.zone !== now.zone) {
            expectedTransitions.push({ tick, agentId: now.id, fromZone: before.zone, toZone: now.zone, reason: now.recentAction ?? eventTypeIn(now.zone) });
          }
        }
        const metrics = random() < 0.7 ? { tick, temperature: Math.round(random() * 1000) / 10 } : undefined;
        inputs.push({ tick, agents: reported, ...(metrics ? { metrics } : {}), ...(events.length > 0 ? { events } : {}) });
        expectedStored.push(tick % INTERVAL === 0 ? [...next.values()] : changed);
        fullStates.push(next);
        states = next;
      }
      // The run must exercise what it checks.
      expect(expectedTransitions.filter((t) => t.reason === null).length).toBeGreaterThan(0);
      expect(expectedTransitions.some((t) => t.reason !== null && !(ACTIONS as readonly string[]).includes(t.reason))).toBe(true);
      expect(expectedStored.some((agents, tick) => tick % INTERVAL !== 0 && agents.length < inputs[tick]!.agents.length)).toBe(true);

      // Sent in uneven batches, one of them overlapping ticks already recorded.
      const batches: [number, number][] = [[0, 1], [1, 7], [7, 9], [5, 22], [22, 30]];
      for (const [from, to] of batches) {
        const payload = await ticksOk(nodeId, inputs.slice(from, to));
        expect(payload.totalTicks).toBe(to);
      }
      expect(await simulation(nodeId)).toMatchObject({ status: 'RUNNING', totalTicks: TICKS, keyframeInterval: INTERVAL, agentCount: AGENTS });

      const { ticks, transitions, events } = await stored(nodeId);
      expect(ticks.map((t) => t.tick)).toEqual(Array.from({ length: TICKS }, (_, i) => i));
      for (const row of ticks) {
        const agents = row.agents as unknown as AgentTickState[];
        if (row.tick % INTERVAL === 0) expect(agents, `keyframe ${row.tick}`).toHaveLength(AGENTS);
        expect(byId(agents), `agents stored at tick ${row.tick}`).toEqual(byId(expectedStored[row.tick]!));
        const populations = row.zonePopulations as Record<string, number>;
        const expected: Record<string, number> = {};
        for (const s of fullStates[row.tick]!.values()) expected[s.zone] = (expected[s.zone] ?? 0) + 1;
        expect(populations, `populations at tick ${row.tick}`).toEqual(expected);
        expect(Object.values(populations).reduce((a, b) => a + b, 0)).toBe(AGENTS);
        expect(row.metrics, `metrics at tick ${row.tick}`).toEqual(inputs[row.tick]!.metrics ?? {});
      }
      for (let tick = 0; tick < TICKS; tick++) {
        const rebuilt = await agentStatesAt(database.db, { nodeId, keyframeInterval: INTERVAL }, tick);
        expect(byId(rebuilt.values()), `state at tick ${tick}`).toEqual(byId(fullStates[tick]!.values()));
      }
      const byTickAgent = <T extends { tick: number; agentId: string }>(list: T[]) =>
        [...list].sort((a, b) => a.tick - b.tick || (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
      expect(transitions.map(({ tick, agentId, fromZone, toZone, reason }) => ({ tick, agentId, fromZone, toZone, reason }))).toEqual(byTickAgent(expectedTransitions));
      expect(events.map(({ eventId, tick, endTick, type, affectedZone }) => ({ eventId, tick, endTick, type, affectedZone }))).toEqual(expectedEvents);
    });
  });

  describe('completeSimulation and simulation', () => {
    it('completes once: a second call is a no-op', async () => {
      await recordFixture('cs-twice');
      await ticksOk('cs-twice', [tick0()]);
      const first = dataOf(await complete('cs-twice')).completeSimulation;
      expect(first).toMatchObject({ status: 'COMPLETED', totalTicks: 1 });
      const before = await stored('cs-twice');
      expect(dataOf(await complete('cs-twice', admin)).completeSimulation).toEqual(first);
      expect(await stored('cs-twice')).toEqual(before);
    });

    it('answers NOT_FOUND for an unknown node, FORBIDDEN for a plain token, UNAUTHENTICATED without one', async () => {
      expect(codesOf(await complete('cs-nobody'))).toEqual(['NOT_FOUND']);
      await recordFixture('cs-access');
      expect(codesOf(await complete('cs-access', plain))).toEqual(['FORBIDDEN']);
      expect(codesOf(await complete('cs-access', null))).toEqual(['UNAUTHENTICATED']);
      expect((await simulation('cs-access'))!.status).toBe('PENDING');
      expect(dataOf(await complete('cs-access', admin)).completeSimulation.status).toBe('COMPLETED');
    });

    it('reads a simulation with any valid token; an unknown one is null; no token is UNAUTHENTICATED', async () => {
      const created = await recordFixture('q-read');
      for (const token of [plain, ingest, admin]) expect(await simulation('q-read', token)).toEqual(created);
      expect(await simulation('q-unknown')).toBeNull();
      const anonymous = await gateway.execute(SimulationDocument, { nodeId: 'q-read' }, null);
      expect(codesOf(anonymous)).toEqual(['UNAUTHENTICATED']);
    });
  });
});
