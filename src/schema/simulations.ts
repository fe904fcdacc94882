import type { SimulationRow } from '../store/simulations.js';
import { builder } from './builder.js';

const SimulationStatus = builder.enumType('SimulationStatus', { values: ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'] as const });

const Simulation = builder.objectRef<SimulationRow>('Simulation').implement({
  description: "A simulation run's recorded telemetry.",
  fields: (t) => ({
    nodeId: t.exposeID('nodeId'),
    status: t.field({ type: SimulationStatus, resolve: (s) => s.status as (typeof SimulationStatus)['$inferType'] }),
    totalTicks: t.exposeInt('totalTicks', { description: 'Ticks recorded (0 to totalTicks - 1).' }),
    keyframeInterval: t.exposeInt('keyframeInterval'),
    agentCount: t.exposeInt('agentCount'),
  }),
});

const AgentProfileInput = builder.inputType('AgentProfileInput', {
  fields: (t) => ({ id: t.id({ required: true }), personaName: t.string(), segment: t.string() }),
});
const InfluenceEdgeInput = builder.inputType('InfluenceEdgeInput', {
  fields: (t) => ({ from: t.id({ required: true }), to: t.id({ required: true }), strength: t.float({ required: true }) }),
});
const RecordSimulationInput = builder.inputType('RecordSimulationInput', {
  fields: (t) => ({
    nodeId: t.id({ required: true }),
    keyframeInterval: t.int({ defaultValue: 5, description: 'Full agent states are stored every this many ticks.' }),
    agents: t.field({ type: [AgentProfileInput], required: true }),
    influence: t.field({ type: [InfluenceEdgeInput] }),
  }),
});
const AgentTickInput = builder.inputType('AgentTickInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    zone: t.string({ required: true }),
    stance: t.float({ required: true }),
    emotion: t.float({ required: true }),
    influenceScore: t.float({ required: true }),
    recentAction: t.string(),
    reasoning: t.string(),
  }),
});
const EventInput = builder.inputType('EventInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    type: t.string({ required: true }),
    name: t.string(),
    intensity: t.float({ defaultValue: 1.0 }),
    affectedZone: t.string(),
    durationTicks: t.int({ defaultValue: 1 }),
  }),
});
const TickInput = builder.inputType('TickInput', {
  fields: (t) => ({
    tick: t.int({ required: true }),
    metrics: t.field({ type: 'JSON', description: 'A JSON object of global metrics.' }),
    agents: t.field({ type: [AgentTickInput], required: true, description: 'Tick 0: every agent; later ticks: those that changed.' }),
    events: t.field({ type: [EventInput] }),
  }),
});
const RecordTicksPayload = builder.simpleObject('RecordTicksPayload', {
  fields: (t) => ({
    nodeId: t.id(),
    recordedTicks: t.int({ description: 'Ticks stored by this call.' }),
    skippedTicks: t.int({ description: 'Ticks already recorded identically: resending is a no-op.' }),
    totalTicks: t.int(),
    status: t.field({ type: SimulationStatus }),
  }),
});

builder.queryFields((t) => ({
  simulation: t.field({
    type: Simulation,
    nullable: true,
    args: { nodeId: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.services.simulation(ctx.viewer, args.nodeId),
  }),
}));

builder.mutationFields((t) => ({
  recordSimulation: t.field({
    type: Simulation,
    description: 'Starts recording a run (ingest or admin); the same definition again is a no-op, another one a CONFLICT.',
    args: { input: t.arg({ type: RecordSimulationInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.recordSimulation(ctx.viewer, input),
  }),
  recordTicks: t.field({
    type: RecordTicksPayload,
    description: 'Appends ticks in order (at most 1000 per call); a tick sent again is a no-op, a different one a CONFLICT.',
    args: { nodeId: t.arg.id({ required: true }), ticks: t.arg({ type: [TickInput], required: true }) },
    resolve: async (_, args, ctx) => {
      const result = await ctx.services.recordTicks(ctx.viewer, args.nodeId, args.ticks);
      return { ...result, status: result.status as (typeof SimulationStatus)['$inferType'] };
    },
  }),
  completeSimulation: t.field({
    type: Simulation,
    args: { nodeId: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.services.completeSimulation(ctx.viewer, args.nodeId),
  }),
}));
