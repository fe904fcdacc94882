import { randomUUID } from 'node:crypto';
import { requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { agentPosition } from '../domain/agent-positions.js';
import { sampleAgents, type SamplingStrategy } from '../domain/agent-sampling.js';
import { applyAgentChanges, isKeyframe, keyframeAtOrBefore, type AgentStates, type AgentTickState } from '../domain/agent-states.js';
import { findLayoutProfile, type LayoutProfile } from '../domain/layouts.js';
import { AppError, badInput, notFound } from '../errors.js';
import {
  createReplaySession,
  deleteExpiredReplaySessions,
  deleteReplaySession,
  eventMarkers,
  touchReplaySession,
  zonesUsed,
  type ReplaySessionRow,
} from '../store/replay-sessions.js';
import { activeEventsAt, findSimulation, ticksBetween, type SimulationRow, type SimulationTickRow } from '../store/simulations.js';
import type { ServiceDeps } from './deps.js';
import { requireId, requireIntInRange } from './input-checks.js';
import { recordedTick } from './simulation-recordings.js';

export interface LoadReplayInput {
  nodeId: string;
  layoutProfile?: string | null;
  downsampling?: { maxAgents?: number | null; samplingStrategy?: SamplingStrategy | null } | null;
  preloadTicks?: number | null;
}

/** An open replay: its session row, the simulation and layout it draws, and the sampled agents. */
export interface ReplayView {
  session: ReplaySessionRow;
  simulation: SimulationRow;
  layout: LayoutProfile;
  agentIds: string[];
  segments: Map<string, string | null>;
}

export interface WorldState {
  tick: number;
  isKeyframe: boolean;
  globalMetrics: unknown;
  zonePopulations: unknown;
  agents: {
    id: string;
    position: { x: number; y: number };
    zone: string;
    stance: number;
    emotion: number;
    influenceScore: number;
    segment: string | null;
    recentAction: string | null;
  }[];
  activeEvents: { id: string; tick: number; type: string; name: string | null; intensity: number; affectedZone: string | null }[];
}

export const LAYERS = [
  { id: 'stance', name: 'Stance', defaultVisible: true },
  { id: 'emotion', name: 'Emotion', defaultVisible: false },
  { id: 'influence', name: 'Influence Network', defaultVisible: false },
];

const MAX_CACHED_TICKS = 512;

/**
 * Read-only replay of recorded simulations: sessions that pin a layout and a sample of agents, world states
 * rebuilt from the nearest keyframe, and seeks that preload the ticks after them. Nothing here writes telemetry.
 * States of completed runs never change, so they are cached (least recently used first out).
 */
export function createReplaySessions({ database, config, now }: ServiceDeps) {
  const { read, db } = database;
  const ttlMs = config.replaySessionTtlMinutes * 60_000;
  const sessionHint = `Replay sessions expire after ${config.replaySessionTtlMinutes} minutes without use; load the replay again.`;
  const cache = new Map<string, { states: AgentStates; row: SimulationTickRow }>();

  function remember(nodeId: string, tick: number, entry: { states: AgentStates; row: SimulationTickRow }) {
    const key = `${nodeId}:${tick}`;
    cache.delete(key);
    cache.set(key, entry);
    if (cache.size > MAX_CACHED_TICKS) cache.delete(cache.keys().next().value!);
  }

  async function tickOf(simulation: SimulationRow, tick: number) {
    const key = `${simulation.nodeId}:${tick}`;
    const cached = cache.get(key);
    if (cached) {
      remember(simulation.nodeId, tick, cached);
      return cached;
    }
    const recorded = await recordedTick(read, simulation, tick);
    if (!recorded) throw new AppError('INVALID_TICK', `Tick ${tick} is out of range`, { validRange: { min: 0, max: simulation.totalTicks - 1 } });
    if (simulation.status === 'COMPLETED') remember(simulation.nodeId, tick, recorded);
    return recorded;
  }

  function requireTick(simulation: SimulationRow, tick: number, field = 'tick') {
    if (!Number.isInteger(tick) || tick < 0 || tick >= simulation.totalTicks) {
      throw new AppError('INVALID_TICK', `Tick ${tick} is out of range`, { field, validRange: { min: 0, max: simulation.totalTicks - 1 } });
    }
  }

  async function viewOf(session: ReplaySessionRow): Promise<ReplayView> {
    const simulation = await findSimulation(read, session.nodeId);
    if (!simulation) throw new AppError('SESSION_NOT_FOUND', 'The simulation of this replay session is gone', { hint: sessionHint });
    const profiles = simulation.agents as { id: string; segment: string | null }[];
    return {
      session,
      simulation,
      layout: findLayoutProfile(session.layoutProfile)!,
      agentIds: session.agentIds as string[],
      segments: new Map(profiles.map((p) => [p.id, p.segment])),
    };
  }

  /** A session in use: refreshes its expiry, or SESSION_NOT_FOUND when it is unknown, closed or expired. */
  async function use(viewer: Viewer | null, sessionId: string): Promise<ReplayView> {
    requireViewer(viewer);
    const at = now();
    const session = await touchReplaySession(db, sessionId, at, new Date(at.getTime() - ttlMs));
    if (!session) throw new AppError('SESSION_NOT_FOUND', `Replay session ${sessionId} not found or expired`, { hint: sessionHint });
    return viewOf(session);
  }

  async function loadReplay(viewer: Viewer | null, input: LoadReplayInput): Promise<ReplayView> {
    const v = requireViewer(viewer);
    requireId(input.nodeId, 'nodeId');
    const layout = findLayoutProfile(input.layoutProfile ?? 'default');
    if (!layout) throw badInput(`Unknown layout profile ${input.layoutProfile}`, 'layoutProfile');
    const maxAgents = requireIntInRange(input.downsampling?.maxAgents ?? 1000, 'downsampling.maxAgents', 1, 10_000);
    const strategy = input.downsampling?.samplingStrategy ?? 'REPRESENTATIVE';
    const preloadTicks = requireIntInRange(input.preloadTicks ?? 10, 'preloadTicks', 0, 100);

    const simulation = await findSimulation(read, input.nodeId);
    if (!simulation) throw notFound(`Simulation ${input.nodeId}`);
    if (simulation.totalTicks === 0) {
      throw new AppError('NO_TELEMETRY', `Simulation ${input.nodeId} has no telemetry to replay`, {
        nodeStatus: simulation.status,
        hint: simulation.status === 'PENDING' ? 'Wait for the run to record its first ticks.' : 'This run recorded no ticks.',
      });
    }
    const missing = [...(await zonesUsed(read, simulation.nodeId))].filter((zone) => !layout.zones.some((z) => z.id === zone));
    if (missing.length > 0) throw badInput(`Layout ${layout.id} has no zone for ${missing.join(', ')}`, 'layoutProfile', { missingZones: missing });

    const { states } = await tickOf(simulation, 0);
    const profiles = simulation.agents as { id: string; segment: string | null }[];
    const candidates = profiles.map((p) => {
      const state = states.get(p.id)!;
      return { id: p.id, segment: p.segment, zone: state.zone, influenceScore: state.influenceScore };
    });
    const at = now();
    await deleteExpiredReplaySessions(db, new Date(at.getTime() - ttlMs));
    const session = await createReplaySession(db, {
      id: randomUUID(),
      nodeId: simulation.nodeId,
      layoutProfile: layout.id,
      maxAgents,
      samplingStrategy: strategy,
      agentIds: sampleAgents(candidates, maxAgents, strategy, simulation.nodeId),
      createdBy: v.personId,
      createdAt: at,
      lastUsedAt: at,
    });
    const view = await viewOf(session);
    await preload(view, 0, preloadTicks);
    return view;
  }

  /** Warms the cache with the ticks after `tick`, walking forward from it (each step applies one tick's changes). */
  async function preload(view: ReplayView, tick: number, range: number) {
    const { simulation } = view;
    const end = Math.min(simulation.totalTicks - 1, tick + range);
    if (simulation.status !== 'COMPLETED' || end <= tick) return { start: tick, end: Math.max(tick, end) };
    let { states } = await tickOf(simulation, tick);
    for (const row of await ticksBetween(read, simulation.nodeId, tick + 1, end)) {
      states = isKeyframe(row.tick, simulation.keyframeInterval)
        ? applyAgentChanges(new Map(), row.agents as unknown as AgentTickState[])
        : applyAgentChanges(states, row.agents as unknown as AgentTickState[]);
      remember(simulation.nodeId, row.tick, { states, row });
    }
    return { start: tick, end };
  }

  /** The world at a tick, with the session's sampled agents placed on its layout. */
  async function worldState(view: ReplayView, tick: number, includeAgents = true): Promise<WorldState> {
    requireTick(view.simulation, tick);
    const { states, row } = await tickOf(view.simulation, tick);
    const zones = new Map(view.layout.zones.map((z) => [z.id, z.bounds]));
    const events = await activeEventsAt(read, view.simulation.nodeId, tick);
    return {
      tick,
      isKeyframe: isKeyframe(tick, view.simulation.keyframeInterval),
      globalMetrics: row.metrics,
      zonePopulations: row.zonePopulations,
      agents: includeAgents
        ? view.agentIds.flatMap((id) => {
            const state = states.get(id);
            if (!state) return [];
            return [
              {
                id,
                position: agentPosition(id, tick, zones.get(state.zone)!),
                zone: state.zone,
                stance: state.stance,
                emotion: state.emotion,
                influenceScore: state.influenceScore,
                segment: view.segments.get(id) ?? null,
                recentAction: state.recentAction,
              },
            ];
          })
        : [],
      activeEvents: events.map((e) => ({ id: e.eventId, tick: e.tick, type: e.type, name: e.name, intensity: e.intensity, affectedZone: e.affectedZone })),
    };
  }

  async function replaySession(viewer: Viewer | null, sessionId: string): Promise<ReplayView | null> {
    try {
      return await use(viewer, sessionId);
    } catch (error) {
      if (error instanceof AppError && error.code === 'SESSION_NOT_FOUND') return null;
      throw error;
    }
  }

  async function seekReplay(viewer: Viewer | null, sessionId: string, tick: number, preloadRange: number) {
    const view = await use(viewer, sessionId);
    requireTick(view.simulation, tick);
    requireIntInRange(preloadRange, 'preloadRange', 0, 100);
    const state = await worldState(view, tick);
    return {
      tick,
      state,
      preloadedRange: await preload(view, tick, preloadRange),
      nearestKeyframe: keyframeAtOrBefore(tick, view.simulation.keyframeInterval),
    };
  }

  /** True when the session was open; false when it was unknown or already closed. */
  async function closeReplay(viewer: Viewer | null, sessionId: string): Promise<boolean> {
    requireViewer(viewer);
    return (await deleteReplaySession(db, sessionId)).count > 0;
  }

  const timelineMarkers = (view: ReplayView) => eventMarkers(read, view.simulation.nodeId);

  return { loadReplay, replaySession, seekReplay, closeReplay, worldState, timelineMarkers };
}
