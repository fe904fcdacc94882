import { Prisma, type Simulation, type SimulationTick } from '../generated/prisma/sqlite/client.js';
import type { AgentTickState, KeyMoment, ZoneTransition } from '../domain/agent-states.js';
import type { JsonText } from '../domain/json-text.js';
import type { BulkWriter, RowShape } from './bulk-insert.js';
import type { Database, Db, Tx } from './database.js';

export type { Simulation as SimulationRow, SimulationTick as SimulationTickRow };

export interface SimulationEventRow {
  eventId: string;
  tick: number;
  endTick: number;
  type: string;
  name: string | null;
  intensity: number;
  affectedZone: string | null;
}

export const findSimulation = (db: Db | Tx, nodeId: string) => db.simulation.findUnique({ where: { nodeId } });

export const createSimulation = (tx: Tx, data: Prisma.SimulationUncheckedCreateInput) => tx.simulation.create({ data });

/** The simulation row for this write transaction (a row lock on PostgreSQL: recorders of one node take turns). */
export async function lockSimulation(tx: Tx, provider: Database['provider'], nodeId: string) {
  if (provider === 'postgresql') await tx.$queryRaw`SELECT 1 FROM simulations WHERE node_id = ${nodeId} FOR UPDATE`;
  return findSimulation(tx, nodeId);
}

export const updateSimulation = (tx: Tx, nodeId: string, data: Prisma.SimulationUncheckedUpdateInput) =>
  tx.simulation.update({ where: { nodeId }, data });

/** The stored digests of these ticks, to tell resends from conflicts. */
export async function tickDigests(tx: Tx, nodeId: string, ticks: readonly number[]): Promise<Map<number, string>> {
  if (ticks.length === 0) return new Map();
  const rows = await tx.simulationTick.findMany({
    where: { nodeId, tick: { gte: Math.min(...ticks), lte: Math.max(...ticks) } },
    select: { tick: true, digest: true },
  });
  return new Map(rows.map((row) => [row.tick, row.digest]));
}

/** The keyframe at `from` and every tick after it up to `to`, in order: what rebuilding the state at `to` reads. */
export const ticksBetween = (db: Db | Tx, nodeId: string, from: number, to: number) =>
  db.simulationTick.findMany({ where: { nodeId, tick: { gte: from, lte: to } }, orderBy: { tick: 'asc' } });

export interface NewTick {
  tick: number;
  /** The stored agents' JSON array, serialised by the caller (which has each agent's JSON at hand already). */
  agents: JsonText;
  metrics: unknown;
  zonePopulations: Record<string, number>;
  digest: string;
}

const TICKS: RowShape = {
  table: 'simulation_ticks',
  columns: ['node_id', 'tick', 'agents', 'metrics', 'zone_populations', 'digest'],
  json: ['agents', 'metrics', 'zone_populations'],
};
const TRANSITIONS: RowShape = { table: 'simulation_transitions', columns: ['node_id', 'tick', 'agent_id', 'from_zone', 'to_zone', 'reason'] };
const KEY_MOMENTS: RowShape = { table: 'simulation_key_moments', columns: ['node_id', 'agent_id', 'tick', 'from_stance', 'to_stance', 'event_name'] };

/** Ticks are the bulk of a recording: written past the ORM, with their JSON serialised once. */
export const insertTicks = (bulk: BulkWriter, nodeId: string, ticks: readonly NewTick[]) =>
  bulk.insert(TICKS, ticks, (t) => [nodeId, t.tick, t.agents, t.metrics, t.zonePopulations, t.digest]);

export const insertTransitions = (bulk: BulkWriter, nodeId: string, transitions: readonly ZoneTransition[]) =>
  bulk.insert(TRANSITIONS, transitions, (t) => [nodeId, t.tick, t.agentId, t.fromZone, t.toZone, t.reason]);

export async function insertEvents(tx: Tx, nodeId: string, events: readonly SimulationEventRow[]) {
  if (events.length > 0) await tx.simulationEvent.createMany({ data: events.map((event) => ({ nodeId, ...event })) });
}

/** Events active at `tick` (started at or before it, not yet over). */
export const activeEventsAt = (db: Db | Tx, nodeId: string, tick: number) =>
  db.simulationEvent.findMany({ where: { nodeId, tick: { lte: tick }, endTick: { gt: tick } }, orderBy: [{ tick: 'asc' }, { eventId: 'asc' }] });

/** Event ids already recorded for this node (an event id is unique within a simulation). */
export async function existingEventIds(tx: Tx, nodeId: string, ids: readonly string[]) {
  if (ids.length === 0) return new Set<string>();
  const rows = await tx.simulationEvent.findMany({ where: { nodeId, eventId: { in: [...ids] } }, select: { eventId: true } });
  return new Set(rows.map((row) => row.eventId));
}

/** Zone transitions of a run from `start` to `end` (inclusive), in tick then agent order. */
export const transitionsBetween = (db: Db | Tx, nodeId: string, start: number, end: number) =>
  db.simulationTransition.findMany({ where: { nodeId, tick: { gte: start, lte: end } }, orderBy: [{ tick: 'asc' }, { agentId: 'asc' }] });

/** Events active at some tick from `start` to `end` (inclusive). */
export const eventsOverlapping = (db: Db | Tx, nodeId: string, start: number, end: number) =>
  db.simulationEvent.findMany({ where: { nodeId, tick: { lte: end }, endTick: { gt: start } }, orderBy: [{ tick: 'asc' }, { eventId: 'asc' }] });

export const insertKeyMoments = (bulk: BulkWriter, nodeId: string, moments: readonly KeyMoment[]) =>
  bulk.insert(KEY_MOMENTS, moments, (m) => [nodeId, m.agentId, m.tick, m.fromStance, m.toStance, m.eventName]);

/** One agent's recorded trajectory: its zone moves and its key moments, in tick order. */
export const agentTransitions = (db: Db, nodeId: string, agentId: string) =>
  db.simulationTransition.findMany({ where: { nodeId, agentId }, orderBy: { tick: 'asc' } });

export const agentKeyMoments = (db: Db, nodeId: string, agentId: string) =>
  db.simulationKeyMoment.findMany({ where: { nodeId, agentId }, orderBy: { tick: 'asc' } });
