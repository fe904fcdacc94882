import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Repeater } from '@repeaterjs/repeater';
import { requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { agentPosition } from '../domain/agent-positions.js';
import { sampleAgents, type SamplingStrategy } from '../domain/agent-sampling.js';
import { applyAgentChanges, isKeyframe, keyframeAtOrBefore, type AgentStates, type AgentTickState } from '../domain/agent-states.js';
import { findLayoutProfile, type LayoutProfile } from '../domain/layouts.js';
import { MAX_PLAYBACK_SPEED, tickIntervalMs } from '../domain/playback-pacing.js';
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
import {
  agentKeyMoments,
  agentTransitions,
  eventsOverlapping,
  findSimulation,
  ticksBetween,
  transitionsBetween,
  type SimulationEventRow,
  type SimulationRow,
  type SimulationTickRow,
} from '../store/simulations.js';
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

/** A run still recording may move agents into a zone its session's layout cannot draw (checked at load for the rest). */
function zoneBounds(zones: ReadonlyMap<string, LayoutProfile['zones'][number]['bounds']>, zone: string) {
  const bounds = zones.get(zone);
  if (!bounds) throw badInput(`The session's layout has no zone ${zone}; load the replay with a layout that has it`, 'layoutProfile', { missingZones: [zone] });
  return bounds;
}

export const LAYERS = [
  { id: 'stance', name: 'Stance', defaultVisible: true },
  { id: 'emotion', name: 'Emotion', defaultVisible: false },
  { id: 'influence', name: 'Influence Network', defaultVisible: false },
];

/** The cache holds at most this many agent states in all (a tick of a large run is many of them). */
const MAX_CACHED_AGENT_STATES = 2_000_000;
export const MAX_CHUNK_TICKS = 100;
const PLAYBACK_CHUNK = 20;

export interface Transition {
  tick: number;
  agentId: string;
  fromZone: string;
  toZone: string;
  reason: string | null;
  fromPosition: { x: number; y: number };
  toPosition: { x: number; y: number };
}

export type ActiveEvent = WorldState['activeEvents'][number];

export type PlaybackFrame =
  | { kind: 'state'; tick: number; state: WorldState }
  | { kind: 'transition'; tick: number; transition: Transition }
  | { kind: 'marker'; tick: number; event: ActiveEvent }
  | { kind: 'end'; finalTick: number; sessionId: string };

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
  let cached = 0;

  function remember(nodeId: string, tick: number, entry: { states: AgentStates; row: SimulationTickRow }) {
    const key = `${nodeId}:${tick}`;
    const previous = cache.get(key);
    if (previous) cached -= previous.states.size;
    cache.delete(key);
    cache.set(key, entry);
    cached += entry.states.size;
    for (const [oldest, old] of cache) {
      if (cached <= MAX_CACHED_AGENT_STATES || oldest === key) break;
      cache.delete(oldest);
      cached -= old.states.size;
    }
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

  /** The states of every tick from `start` to `end`: the first from its keyframe (or the cache), then one tick's changes at a time. */
  async function statesBetween(simulation: SimulationRow, start: number, end: number) {
    const first = await tickOf(simulation, start);
    const result = [{ tick: start, ...first }];
    let states = first.states;
    for (const row of end > start ? await ticksBetween(read, simulation.nodeId, start + 1, end) : []) {
      states = isKeyframe(row.tick, simulation.keyframeInterval)
        ? applyAgentChanges(new Map(), row.agents as unknown as AgentTickState[])
        : applyAgentChanges(states, row.agents as unknown as AgentTickState[]);
      result.push({ tick: row.tick, states, row });
    }
    return result;
  }

  /** Warms the cache with the ticks from `tick` on (completed runs only: theirs never change); says which are warm. */
  async function preload(view: ReplayView, tick: number, range: number) {
    const { simulation } = view;
    const end = Math.min(simulation.totalTicks - 1, tick + range);
    if (simulation.status !== 'COMPLETED') return { start: tick, end: tick };
    for (const { tick: at, states, row } of await statesBetween(simulation, tick, end)) remember(simulation.nodeId, at, { states, row });
    return { start: tick, end };
  }

  const toActiveEvent = (e: SimulationEventRow) => ({ id: e.eventId, tick: e.tick, type: e.type, name: e.name, intensity: e.intensity, affectedZone: e.affectedZone });

  /** The world at every tick from `start` to `end`, with the session's sampled agents placed on its layout. */
  async function worldStates(view: ReplayView, start: number, end: number, includeAgents = true): Promise<WorldState[]> {
    const zones = new Map(view.layout.zones.map((z) => [z.id, z.bounds]));
    const [ticks, events] = await Promise.all([statesBetween(view.simulation, start, end), eventsOverlapping(read, view.simulation.nodeId, start, end)]);
    return ticks.map(({ tick, states, row }) => ({
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
                position: agentPosition(id, tick, zoneBounds(zones, state.zone)),
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
      activeEvents: events.filter((e) => e.tick <= tick && e.endTick > tick).map(toActiveEvent),
    }));
  }

  async function worldState(view: ReplayView, tick: number, includeAgents = true, layers?: readonly string[] | null): Promise<WorldState> {
    requireTick(view.simulation, tick);
    const unknown = (layers ?? []).filter((id) => !LAYERS.some((layer) => layer.id === id));
    if (unknown.length > 0) throw badInput(`Unknown layers: ${unknown.join(', ')}`, 'layers', { validLayers: LAYERS.map((l) => l.id) });
    return (await worldStates(view, tick, tick, includeAgents))[0]!;
  }

  /** Zone moves of the session's sampled agents, with where they were drawn before and after. */
  async function transitions(view: ReplayView, start: number, end: number): Promise<Transition[]> {
    const sampled = new Set(view.agentIds);
    const zones = new Map(view.layout.zones.map((z) => [z.id, z.bounds]));
    return (await transitionsBetween(read, view.simulation.nodeId, start, end))
      .filter((t) => sampled.has(t.agentId))
      .map((t) => ({
        tick: t.tick,
        agentId: t.agentId,
        fromZone: t.fromZone,
        toZone: t.toZone,
        reason: t.reason,
        fromPosition: agentPosition(t.agentId, t.tick - 1, zoneBounds(zones, t.fromZone)),
        toPosition: agentPosition(t.agentId, t.tick, zoneBounds(zones, t.toZone)),
      }));
  }

  /** A stretch of ticks at once (at most MAX_CHUNK_TICKS): states, transitions and the events active in it. */
  async function chunk(view: ReplayView, startTick: number, endTick: number, includeTransitions: boolean) {
    requireTick(view.simulation, startTick, 'startTick');
    requireTick(view.simulation, endTick, 'endTick');
    if (endTick < startTick) throw badInput('endTick must not be before startTick', 'endTick');
    if (endTick - startTick + 1 > MAX_CHUNK_TICKS) throw badInput(`a chunk spans at most ${MAX_CHUNK_TICKS} ticks`, 'endTick', { max: MAX_CHUNK_TICKS });
    const [states, moves, events] = await Promise.all([
      worldStates(view, startTick, endTick),
      includeTransitions ? transitions(view, startTick, endTick) : [],
      eventsOverlapping(read, view.simulation.nodeId, startTick, endTick),
    ]);
    return { startTick, endTick, chunkSize: states.length, states, transitions: moves, eventsInRange: events.map(toActiveEvent) };
  }

  /**
   * Live playback: per tick, its transition and marker frames then its state frame, paced at `speed` ×
   * PLAYBACK_TICKS_PER_SECOND (unpaced at MAX_PLAYBACK_SPEED), then one end frame. Reads a chunk at a time, keeps
   * the session alive while it plays, and stops as soon as the subscriber leaves (a slow one simply slows the reading).
   */
  async function replayPlayback(viewer: Viewer | null, sessionId: string, startTick: number, speed: number) {
    const view = await use(viewer, sessionId);
    requireTick(view.simulation, startTick, 'startTick');
    if (!Number.isFinite(speed) || speed <= 0 || speed > MAX_PLAYBACK_SPEED) {
      throw badInput(`speed must be greater than 0 and at most ${MAX_PLAYBACK_SPEED} (which plays unpaced)`, 'speed');
    }
    const tickMs = tickIntervalMs(speed, config.playbackTicksPerSecond);
    const last = view.simulation.totalTicks - 1;
    return new Repeater<PlaybackFrame>(async (push, stop) => {
      const leaving = new AbortController();
      void stop.then(() => leaving.abort());
      let due = performance.now();
      let touchedAt = now().getTime();
      try {
        for (let start = startTick; start <= last && !leaving.signal.aborted; start += PLAYBACK_CHUNK) {
          const end = Math.min(last, start + PLAYBACK_CHUNK - 1);
          const [states, moves] = await Promise.all([worldStates(view, start, end), transitions(view, start, end)]);
          for (const state of states) {
            // Ahead of schedule, wait; otherwise (unpaced, or running late) only yield to the event loop, so socket
            // writes and other clients get their turn between ticks: reads and pushes alone never leave it. Even a
            // zero timeout would wait for the timers' next turn, about 1 ms.
            const wait = due - performance.now();
            await (wait > 0 ? sleep(wait, undefined, { signal: leaving.signal }) : nextTurn());
            due += tickMs;
            for (const transition of moves.filter((m) => m.tick === state.tick)) await push({ kind: 'transition', tick: state.tick, transition });
            // An event's marker is due at its first tick, where it is among the state's active events (it lasts a tick at least).
            for (const event of state.activeEvents) if (event.tick === state.tick) await push({ kind: 'marker', tick: state.tick, event });
            await push({ kind: 'state', tick: state.tick, state });
            if (leaving.signal.aborted) return;
          }
          // Refreshing twice per TTL keeps the session alive; refreshing every chunk would put a committed write
          // (an fsync on SQLite) between every few ticks.
          const at = now();
          if (at.getTime() - touchedAt >= ttlMs / 2) {
            touchedAt = at.getTime();
            await touchReplaySession(db, sessionId, at, new Date(touchedAt - ttlMs));
          }
        }
        await push({ kind: 'end', finalTick: last, sessionId });
        stop();
      } catch (error) {
        if (!leaving.signal.aborted) stop(error);
      }
    });
  }

  /**
   * One agent's story in the run (any agent, sampled or not): where it is at the last tick, the zones it went
   * through, its key moments and its influence links, all read from what was derived at record time.
   */
  async function agentFocus(view: ReplayView, agentId: string, includeReasoning: boolean) {
    const { simulation } = view;
    const profile = (simulation.agents as { id: string; personaName: string | null; segment: string | null }[]).find((a) => a.id === agentId);
    if (!profile) return null;
    const last = simulation.totalTicks - 1;
    const [[current], [initial], moves, moments] = await Promise.all([
      worldStates({ ...view, agentIds: [agentId] }, last, last),
      worldStates({ ...view, agentIds: [agentId] }, 0, 0),
      agentTransitions(read, simulation.nodeId, agentId),
      agentKeyMoments(read, simulation.nodeId, agentId),
    ]);
    const currentState = current!.agents[0]!;
    const { states } = await tickOf(simulation, last);
    const edges = simulation.influence as { from: string; to: string; strength: number }[];
    return {
      agentId,
      personaName: profile.personaName,
      segment: profile.segment,
      currentState,
      reasoning: includeReasoning ? (states.get(agentId)?.reasoning ?? null) : null,
      trajectorySummary: {
        zonesVisited: [...new Set([initial!.agents[0]!.zone, ...moves.map((m) => m.toZone)])],
        totalTransitions: moves.length,
        finalDecision: currentState.recentAction,
        decisionTick: moves.at(-1)?.tick ?? null,
      },
      keyMoments: moments.map((m) => ({
        tick: m.tick,
        event: m.eventName ?? 'Stance shifted',
        stateChange: { stance: m.fromStance, toStance: m.toStance },
      })),
      influenceConnections: [
        ...edges.filter((e) => e.to === agentId).map((e) => ({ agentId: e.from, strength: e.strength, direction: 'incoming' })),
        ...edges.filter((e) => e.from === agentId).map((e) => ({ agentId: e.to, strength: e.strength, direction: 'outgoing' })),
      ],
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
    const at = now();
    return (await deleteReplaySession(db, sessionId, new Date(at.getTime() - ttlMs))) > 0;
  }

  const timelineMarkers = (view: ReplayView) => eventMarkers(read, view.simulation.nodeId);

  return { loadReplay, replaySession, seekReplay, closeReplay, worldState, chunk, agentFocus, replayPlayback, timelineMarkers };
}
