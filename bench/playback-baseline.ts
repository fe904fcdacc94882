import BetterSqlite3 from 'better-sqlite3';
import { agentPosition } from '../src/domain/agent-positions.js';
import type { AgentTickState } from '../src/domain/agent-states.js';
import { findLayoutProfile } from '../src/domain/layouts.js';

interface TickRow {
  tick: number;
  agents: string;
  metrics: string;
  zone_populations: string;
}
interface TransitionRow {
  tick: number;
  agent_id: string;
  from_zone: string;
  to_zone: string;
  reason: string | null;
}
interface EventRow {
  event_id: string;
  tick: number;
  end_tick: number;
  type: string;
  name: string | null;
  intensity: number;
  affected_zone: string | null;
}

/**
 * The baseline `playback` is measured against: the frames of a replay session built straight from the gateway's
 * SQLite file with better-sqlite3 prepared statements and `JSON.parse`, in one forward pass and in one process —
 * the same rows, the same sampled agents and the same frame data (positions included, from the same pure
 * `agentPosition`), with no GraphQL, no serialisation and no socket. `play` reads the session as the gateway does
 * at subscribe time, hands every frame to `sink` and says how many it built (the end frame included, as the
 * gateway's subscriber counts it).
 */
export function createPlaybackBaseline(filename: string) {
  const db = new BetterSqlite3(filename, { readonly: true });
  const sessionRow = db.prepare('SELECT node_id, layout_profile, agent_ids FROM replay_sessions WHERE id = ?');
  const simulationRow = db.prepare('SELECT keyframe_interval, agents FROM simulations WHERE node_id = ?');
  const ticks = db.prepare('SELECT tick, agents, metrics, zone_populations FROM simulation_ticks WHERE node_id = ? ORDER BY tick');
  const transitions = db.prepare(
    'SELECT tick, agent_id, from_zone, to_zone, reason FROM simulation_transitions WHERE node_id = ? ORDER BY tick, agent_id',
  );
  const events = db.prepare(
    'SELECT event_id, tick, end_tick, type, name, intensity, affected_zone FROM simulation_events WHERE node_id = ? ORDER BY tick, event_id',
  );

  function play(sessionId: string, sink: (frame: unknown) => void): number {
    const session = sessionRow.get(sessionId) as { node_id: string; layout_profile: string; agent_ids: string } | undefined;
    if (!session) throw new Error(`No replay session ${sessionId} in ${filename}`);
    const nodeId = session.node_id;
    const simulation = simulationRow.get(nodeId) as { keyframe_interval: number; agents: string };
    const sampled: string[] = JSON.parse(session.agent_ids);
    const isSampled = new Set(sampled);
    const segments = new Map((JSON.parse(simulation.agents) as { id: string; segment: string | null }[]).map((a) => [a.id, a.segment]));
    const zones = new Map(findLayoutProfile(session.layout_profile)!.zones.map((z) => [z.id, z.bounds]));
    const allEvents = (events.all(nodeId) as EventRow[]).map((e) => ({
      id: e.event_id,
      tick: e.tick,
      endTick: e.end_tick,
      type: e.type,
      name: e.name,
      intensity: e.intensity,
      affectedZone: e.affected_zone,
    }));
    const moves = (transitions.all(nodeId) as TransitionRow[]).filter((t) => isSampled.has(t.agent_id));
    const states = new Map<string, AgentTickState>();
    let frames = 0;
    let nextMove = 0;
    let last = 0;
    for (const row of ticks.iterate(nodeId) as IterableIterator<TickRow>) {
      const { tick } = row;
      // Keyframes hold every agent; the ticks between them only the agents that changed.
      if (tick % simulation.keyframe_interval === 0) states.clear();
      for (const state of JSON.parse(row.agents) as AgentTickState[]) states.set(state.id, state);
      for (; nextMove < moves.length && moves[nextMove]!.tick === tick; nextMove += 1) {
        const t = moves[nextMove]!;
        const transition = {
          tick,
          agentId: t.agent_id,
          fromZone: t.from_zone,
          toZone: t.to_zone,
          reason: t.reason,
          fromPosition: agentPosition(t.agent_id, tick - 1, zones.get(t.from_zone)!),
          toPosition: agentPosition(t.agent_id, tick, zones.get(t.to_zone)!),
        };
        sink({ tick, transition });
        frames += 1;
      }
      for (const event of allEvents) {
        if (event.tick === tick) {
          sink({ tick, event });
          frames += 1;
        }
      }
      const agents = [];
      for (const id of sampled) {
        const state = states.get(id);
        if (!state) continue;
        agents.push({
          id,
          position: agentPosition(id, tick, zones.get(state.zone)!),
          zone: state.zone,
          stance: state.stance,
          emotion: state.emotion,
          influenceScore: state.influenceScore,
          segment: segments.get(id) ?? null,
          recentAction: state.recentAction,
        });
      }
      const state = {
        tick,
        isKeyframe: tick % simulation.keyframe_interval === 0,
        globalMetrics: JSON.parse(row.metrics),
        zonePopulations: JSON.parse(row.zone_populations),
        agents,
        activeEvents: allEvents.filter((e) => e.tick <= tick && e.endTick > tick),
      };
      sink({ tick, state });
      frames += 1;
      last = tick;
    }
    sink({ finalTick: last, sessionId });
    return frames + 1;
  }

  return { play, close: () => db.close() };
}
