import { createHash } from 'node:crypto';
import { requireIngest, requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
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
  type KeyMoment,
  type ZoneTransition,
} from '../domain/agent-states.js';
import { isJsonObject } from '../domain/json.js';
import { JsonText } from '../domain/json-text.js';
import { AppError, badInput, notFound } from '../errors.js';
import type { Db, Tx } from '../store/database.js';
import {
  activeEventsAt,
  createSimulation,
  existingEventIds,
  findSimulation,
  insertEvents,
  insertKeyMoments,
  insertTicks,
  insertTransitions,
  lockSimulation,
  tickDigests,
  ticksBetween,
  updateSimulation,
  type NewTick,
  type SimulationEventRow,
  type SimulationRow,
} from '../store/simulations.js';
import { retryOnUniqueViolation } from '../store/unique-violations.js';
import type { ServiceDeps } from './deps.js';
import { rejectNulCharacters, requireId, requireIntInRange } from './input-checks.js';

export type SimulationStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED';

export interface RecordSimulationInput {
  nodeId: string;
  keyframeInterval?: number | null;
  agents: readonly { id: string; personaName?: string | null; segment?: string | null }[];
  influence?: readonly { from: string; to: string; strength: number }[] | null;
}

export interface AgentTickInput {
  id: string;
  zone: string;
  stance: number;
  emotion: number;
  influenceScore: number;
  recentAction?: string | null;
  reasoning?: string | null;
}

export interface EventInput {
  id: string;
  type: string;
  name?: string | null;
  intensity?: number | null;
  affectedZone?: string | null;
  durationTicks?: number | null;
}

export interface TickInput {
  tick: number;
  metrics?: unknown;
  agents: readonly AgentTickInput[];
  events?: readonly EventInput[] | null;
}

export const MAX_TICKS_PER_CALL = 1000;
const MAX_AGENTS = 100_000;

/** JSON with object keys sorted at every depth: the same data always hashes the same (JSONB reorders keys). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isJsonObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
const sha256 = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');
const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A run's definition as compared on a re-record: order of agents and edges does not matter. */
const definitionDigest = (definition: { keyframeInterval: number; agents: unknown; influence: unknown }) =>
  sha256({
    keyframeInterval: definition.keyframeInterval,
    agents: (definition.agents as { id: string }[]).map(canonicalJson).sort(byText),
    influence: (definition.influence as unknown[]).map(canonicalJson).sort(byText),
  });

/**
 * Every agent's state at `tick` (the keyframe at or before it plus the changes recorded after it, so the cost
 * does not grow with the tick number), and that tick's stored row. Null when the tick was not recorded.
 */
export async function recordedTick(db: Db | Tx, simulation: Pick<SimulationRow, 'nodeId' | 'keyframeInterval'>, tick: number) {
  const rows = await ticksBetween(db, simulation.nodeId, keyframeAtOrBefore(tick, simulation.keyframeInterval), tick);
  const row = rows.at(-1);
  if (!row || row.tick !== tick) return null;
  let states: AgentStates = new Map();
  for (const each of rows) states = applyAgentChanges(states, each.agents as unknown as AgentTickState[]);
  return { states, row };
}

/** Every agent's state at `tick` (empty when the tick was not recorded). */
export const agentStatesAt = async (db: Db | Tx, simulation: Pick<SimulationRow, 'nodeId' | 'keyframeInterval'>, tick: number): Promise<AgentStates> =>
  (await recordedTick(db, simulation, tick))?.states ?? new Map();

/**
 * The state to store, its keys in sorted order, which is canonicalJson's: JSON.stringify of a list of checked
 * states is their canonical JSON (JSON.stringify of a finite number is its String(), and strings are escaped the
 * same way), written by the engine in one pass. It is the hot path of recording.
 */
function checkAgentState(input: AgentTickInput, where: string): AgentTickState {
  requireId(input.zone, `${where}.zone`, 100);
  for (const field of ['stance', 'emotion', 'influenceScore'] as const) {
    if (!Number.isFinite(input[field])) throw badInput(`${field} must be a finite number`, `${where}.${field}`);
  }
  for (const field of ['recentAction', 'reasoning'] as const) {
    if (input[field]?.includes('\u0000')) throw badInput(`${field} must not contain NUL characters`, `${where}.${field}`);
  }
  return {
    emotion: input.emotion,
    id: input.id,
    influenceScore: input.influenceScore,
    reasoning: input.reasoning || null,
    recentAction: input.recentAction || null,
    stance: input.stance,
    zone: input.zone,
  };
}

const canonicalEvent = (e: EventInput) => ({
  affectedZone: e.affectedZone ?? null,
  durationTicks: e.durationTicks ?? 1,
  id: e.id,
  intensity: e.intensity ?? 1,
  name: e.name ?? null,
  type: e.type,
});

/** A tick as recorded, with defaults spelled out and lists in id order: what a resend is compared by. */
const tickDigest = (input: TickInput, agentsJson: string) =>
  createHash('sha256')
    .update(
      `{"agents":${agentsJson},"events":${JSON.stringify((input.events ?? []).map(canonicalEvent).sort(byId))},` +
        `"metrics":${canonicalJson(input.metrics ?? {})},"tick":${JSON.stringify(input.tick)}}`,
    )
    .digest('hex');

/** A tick's shape checked without the run (order, metrics, events): what needs no transaction. */
function checkTickShape(input: TickInput, i: number, previous: TickInput | undefined) {
  const where = `ticks[${i}]`;
  requireIntInRange(input.tick, `${where}.tick`, 0, 10_000_000);
  if (previous && input.tick <= previous.tick) throw badInput('ticks must be in increasing order', `${where}.tick`);
  if (input.metrics != null && !isJsonObject(input.metrics)) throw badInput('metrics must be a JSON object', `${where}.metrics`);
  rejectNulCharacters(input.metrics, `${where}.metrics`);
  rejectNulCharacters(input.events, `${where}.events`);
}

/** A tick's agents checked against the run's roster, each once: the states to store. */
function checkTickAgents(input: TickInput, where: string, roster: ReadonlySet<string>): AgentTickState[] {
  const seen = new Set<string>();
  const reported = input.agents.map((agent, i) => {
    if (!roster.has(agent.id)) throw badInput(`agent ${agent.id} is not part of this simulation`, `${where}.agents[${i}].id`);
    if (seen.has(agent.id)) throw badInput(`agent ${agent.id} is reported twice`, `${where}.agents[${i}].id`);
    seen.add(agent.id);
    return checkAgentState(agent, `${where}.agents[${i}]`);
  });
  if (input.tick === 0 && seen.size !== roster.size) {
    throw badInput('tick 0 must report every agent (later ticks may report only those that changed)', `${where}.agents`);
  }
  return reported;
}

/**
 * Recording simulation telemetry (ingest or admin), shaped for replay: full agent states at keyframes, changes
 * in between, and zone populations, transitions and events derived as each tick is stored, so replays never
 * recompute history. Telemetry is immutable: a tick sent again is a no-op, a different one a CONFLICT.
 */
export function createSimulationRecordings({ database, now }: ServiceDeps) {
  const { db, read, provider, bulk } = database;

  async function recordSimulation(viewer: Viewer | null, input: RecordSimulationInput): Promise<SimulationRow> {
    requireIngest(viewer, 'Recording simulations');
    requireId(input.nodeId, 'nodeId');
    const keyframeInterval = requireIntInRange(input.keyframeInterval ?? 5, 'keyframeInterval', 1, 1000);
    if (input.agents.length === 0 || input.agents.length > MAX_AGENTS) throw badInput(`agents must hold 1 to ${MAX_AGENTS} agents`, 'agents');
    rejectNulCharacters([input.agents, input.influence], 'agents');
    const agents = input.agents.map((agent, i) => ({
      id: requireId(agent.id, `agents[${i}].id`),
      personaName: agent.personaName ?? null,
      segment: agent.segment ?? null,
    }));
    const ids = new Set(agents.map((agent) => agent.id));
    if (ids.size !== agents.length) throw badInput('agent ids must be unique', 'agents');
    const influence = (input.influence ?? []).map((edge, i) => {
      if (!ids.has(edge.from) || !ids.has(edge.to)) throw badInput('influence edges must join recorded agents', `influence[${i}]`);
      if (!Number.isFinite(edge.strength)) throw badInput('strength must be a finite number', `influence[${i}].strength`);
      return { from: edge.from, to: edge.to, strength: edge.strength };
    });

    // Two first recordings of a node race on its primary key; the loser is retried into the "already there" path.
    return retryOnUniqueViolation(() => db.$transaction(async (tx) => {
      const existing = await lockSimulation(tx, provider, input.nodeId);
      const definition = { keyframeInterval, agents, influence };
      if (existing) {
        // Recording the same run again is a no-op; a different definition for the node is a conflict.
        const same = definitionDigest(existing) === definitionDigest(definition);
        if (!same) throw new AppError('CONFLICT', `Simulation ${input.nodeId} was already recorded with another definition`, { nodeStatus: existing.status });
        return existing;
      }
      const at = now();
      return createSimulation(tx, {
        nodeId: input.nodeId,
        status: 'PENDING',
        keyframeInterval,
        totalTicks: 0,
        agentCount: agents.length,
        agents,
        influence,
        createdAt: at,
        updatedAt: at,
      });
    }));
  }

  async function recordTicks(viewer: Viewer | null, nodeId: string, inputs: readonly TickInput[]) {
    requireIngest(viewer, 'Recording simulations');
    requireId(nodeId, 'nodeId');
    if (inputs.length === 0 || inputs.length > MAX_TICKS_PER_CALL) throw badInput(`ticks must hold 1 to ${MAX_TICKS_PER_CALL} ticks`, 'ticks');
    inputs.forEach((input, i) => checkTickShape(input, i, inputs[i - 1]));

    return db.$transaction(async (tx) => {
      const simulation = await lockSimulation(tx, provider, nodeId);
      if (!simulation) throw notFound(`Simulation ${nodeId}`);
      const roster = new Set((simulation.agents as { id: string }[]).map((agent) => agent.id));
      // Ticks are in increasing order: those already recorded (resends) come first, then the fresh ones.
      const resentCount = inputs.findIndex((input) => input.tick >= simulation.totalTicks);
      const resent = resentCount < 0 ? inputs : inputs.slice(0, resentCount);
      const fresh = resentCount < 0 ? [] : inputs.slice(resentCount);
      if (fresh.length > 0 && (simulation.status === 'COMPLETED' || simulation.status === 'FAILED')) {
        throw new AppError('CONFLICT', `Simulation ${nodeId} is ${simulation.status}: it takes no more ticks`, { nodeStatus: simulation.status });
      }
      fresh.forEach((input, i) => {
        const expected = simulation.totalTicks + i;
        if (input.tick !== expected) throw badInput(`ticks are appended in order: the next one is ${expected}`, 'ticks', { expectedTick: expected });
      });

      /** A tick's agents checked and in id order, their canonical JSON, and the tick's digest. */
      const checkTick = (input: TickInput, where: string) => {
        const reported = checkTickAgents(input, where, roster).sort(byId);
        const reportedJson = JSON.stringify(reported);
        return { reported, reportedJson, digest: tickDigest(input, reportedJson) };
      };
      const stored = await tickDigests(tx, nodeId, resent.map((input) => input.tick));
      resent.forEach((input, i) => {
        if (stored.get(input.tick) !== checkTick(input, `ticks[${i}]`).digest) {
          throw new AppError('CONFLICT', `Tick ${input.tick} was already recorded with other telemetry`, { tick: input.tick });
        }
      });

      // This call's own copy, moved forward tick by tick. Each tick is checked, derived and serialised in turn,
      // so its checked states die young (a whole call's would outlive the young generation).
      const states = new Map(simulation.totalTicks > 0 ? await agentStatesAt(tx, simulation, simulation.totalTicks - 1) : []);
      const active: SimulationEventRow[] = fresh.length > 0 ? await activeEventsAt(tx, nodeId, fresh[0]!.tick) : [];
      const batchEvents: SimulationEventRow[] = [];
      const batchEventIds = new Set<string>();
      const ticks: NewTick[] = [];
      const transitions: ZoneTransition[] = [];
      const moments: KeyMoment[] = [];

      for (const [i, input] of fresh.entries()) {
        const where = `ticks[${resent.length + i}]`;
        const { reported, reportedJson, digest } = checkTick(input, where);
        for (const [e, event] of (input.events ?? []).entries()) {
          requireId(event.id, `${where}.events[${e}].id`);
          requireId(event.type, `${where}.events[${e}].type`, 100);
          const duration = requireIntInRange(event.durationTicks ?? 1, `${where}.events[${e}].durationTicks`, 1, 10_000_000);
          const intensity = event.intensity ?? 1;
          if (!Number.isFinite(intensity)) throw badInput('intensity must be a finite number', `${where}.events[${e}].intensity`);
          if (batchEventIds.has(event.id)) throw badInput(`event ${event.id} is recorded twice`, `${where}.events[${e}].id`);
          batchEventIds.add(event.id);
          const row = { eventId: event.id, tick: input.tick, endTick: input.tick + duration, type: event.type, name: event.name ?? null, intensity, affectedZone: event.affectedZone ?? null };
          batchEvents.push(row);
          active.push(row);
        }

        const eventIn = (zone: string) => active.find((e) => e.tick <= input.tick && e.endTick > input.tick && e.affectedZone === zone);
        // Appended one by one: spreading a whole run's moves into push() would overflow the stack at 100,000 agents.
        for (const move of zoneTransitions(states, reported, input.tick, (zone) => eventIn(zone)?.type ?? null)) transitions.push(move);
        for (const moment of keyMoments(states, reported, input.tick, (zone) => { const e = eventIn(zone); return e ? (e.name ?? e.type) : null; })) moments.push(moment);
        const changed = changedAgents(states, reported);
        for (const state of reported) states.set(state.id, state);
        // A keyframe stores every agent, another tick those that changed: when that is every agent reported
        // (a subset of both), it is the same list as the digest's, text included.
        const kept = isKeyframe(input.tick, simulation.keyframeInterval) ? [...states.values()] : changed;
        ticks.push({
          tick: input.tick,
          agents: new JsonText(kept.length === reported.length ? reportedJson : JSON.stringify(kept.sort(byId))),
          metrics: input.metrics ?? {},
          zonePopulations: zonePopulations(states),
          digest,
        });
      }

      const reused = await existingEventIds(tx, nodeId, [...batchEventIds]);
      if (reused.size > 0) throw badInput(`event ids already recorded: ${[...reused].join(', ')}`, 'ticks');
      await insertTicks(bulk, nodeId, ticks);
      await insertTransitions(bulk, nodeId, transitions);
      await insertEvents(tx, nodeId, batchEvents);
      await insertKeyMoments(bulk, nodeId, moments);
      const totalTicks = simulation.totalTicks + ticks.length;
      const status: SimulationStatus = ticks.length > 0 && simulation.status === 'PENDING' ? 'RUNNING' : (simulation.status as SimulationStatus);
      if (ticks.length > 0) await updateSimulation(tx, nodeId, { totalTicks, status, updatedAt: now() });
      return { nodeId, recordedTicks: ticks.length, skippedTicks: inputs.length - ticks.length, totalTicks, status };
    });
  }

  /** Marks the run complete: its telemetry is final from here on. Completing twice is a no-op. */
  async function completeSimulation(viewer: Viewer | null, nodeId: string): Promise<SimulationRow> {
    requireIngest(viewer, 'Recording simulations');
    return db.$transaction(async (tx) => {
      const simulation = await lockSimulation(tx, provider, nodeId);
      if (!simulation) throw notFound(`Simulation ${nodeId}`);
      if (simulation.status === 'COMPLETED') return simulation;
      if (simulation.status === 'FAILED') throw new AppError('CONFLICT', `Simulation ${nodeId} failed; it cannot complete`, { nodeStatus: 'FAILED' });
      return updateSimulation(tx, nodeId, { status: 'COMPLETED', updatedAt: now() });
    });
  }

  /** Any valid token may read simulations. */
  async function simulation(viewer: Viewer | null, nodeId: string): Promise<SimulationRow | null> {
    requireViewer(viewer);
    return findSimulation(read, nodeId);
  }

  return { recordSimulation, recordTicks, completeSimulation, simulation };
}
