import { keyframeAtOrBefore } from '../domain/agent-states.js';
import { MAX_PLAYBACK_SPEED } from '../domain/playback-pacing.js';
import { requireViewer } from '../auth/access.js';
import { guardStream } from '../realtime/guarded-stream.js';
import { LAYERS, type PlaybackFrame as Frame, type ReplayView, type WorldState as WorldStateShape } from '../services/replay-sessions.js';
import { builder } from './builder.js';
import { Zone } from './layouts.js';

const Point = builder.simpleObject('Point', { fields: (t) => ({ x: t.float(), y: t.float() }) });
const Layer = builder.simpleObject('Layer', { fields: (t) => ({ id: t.id(), name: t.string(), defaultVisible: t.boolean() }) });
const EventMarker = builder.simpleObject('EventMarker', {
  fields: (t) => ({ tick: t.int(), type: t.string(), name: t.string({ nullable: true }) }),
});
const ActiveEvent = builder.simpleObject('ActiveEvent', {
  fields: (t) => ({
    id: t.id(),
    tick: t.int(),
    type: t.string(),
    name: t.string({ nullable: true }),
    intensity: t.float(),
    affectedZone: t.string({ nullable: true }),
  }),
});
const AgentState = builder.simpleObject('AgentState', {
  fields: (t) => ({
    id: t.id(),
    position: t.field({ type: Point }),
    zone: t.string(),
    stance: t.float(),
    emotion: t.float(),
    influenceScore: t.float(),
    segment: t.string({ nullable: true }),
    recentAction: t.string({ nullable: true }),
  }),
});
const WorldState = builder.objectRef<WorldStateShape>('WorldState').implement({
  fields: (t) => ({
    tick: t.exposeInt('tick'),
    isKeyframe: t.exposeBoolean('isKeyframe'),
    globalMetrics: t.field({ type: 'JSON', resolve: (s) => s.globalMetrics }),
    zonePopulations: t.field({ type: 'JSON', description: 'Every agent counted, not only the sampled ones.', resolve: (s) => s.zonePopulations }),
    agents: t.field({ type: [AgentState], description: "The session's sampled agents, placed on its layout.", resolve: (s) => s.agents }),
    activeEvents: t.field({ type: [ActiveEvent], resolve: (s) => s.activeEvents }),
  }),
});

const markersOf = async (view: ReplayView, load: (view: ReplayView) => Promise<{ tick: number; type: string; name: string | null }[]>) =>
  (await load(view)).map((e) => ({ tick: e.tick, type: e.type, name: e.name }));

const ReplayTimeline = builder.objectRef<ReplayView>('ReplayTimeline').implement({
  fields: (t) => ({
    totalTicks: t.int({ resolve: (v) => v.simulation.totalTicks }),
    keyframeInterval: t.int({ resolve: (v) => v.simulation.keyframeInterval }),
    keyframeTicks: t.intList({
      resolve: (v) =>
        Array.from({ length: keyframeAtOrBefore(v.simulation.totalTicks - 1, v.simulation.keyframeInterval) / v.simulation.keyframeInterval + 1 }, (_, i) => i * v.simulation.keyframeInterval),
    }),
    zoneDefinitions: t.field({ type: [Zone], resolve: (v) => v.layout.zones }),
    layerDefinitions: t.field({ type: [Layer], resolve: () => LAYERS }),
    eventMarkers: t.field({ type: [EventMarker], resolve: (v, _, ctx) => markersOf(v, ctx.services.timelineMarkers) }),
  }),
});

const SamplingStrategy = builder.enumType('SamplingStrategy', { values: ['REPRESENTATIVE', 'RANDOM', 'TOP_INFLUENCE'] as const });

const ReplaySession = builder.objectRef<ReplayView>('ReplaySession').implement({
  description: 'A read-only replay of a recorded simulation: a layout and a stable sample of agents.',
  fields: (t) => ({
    id: t.id({ resolve: (v) => v.session.id }),
    nodeId: t.id({ resolve: (v) => v.session.nodeId }),
    layoutProfile: t.string({ resolve: (v) => v.layout.id }),
    maxAgents: t.int({ resolve: (v) => v.session.maxAgents }),
    samplingStrategy: t.field({ type: SamplingStrategy, resolve: (v) => v.session.samplingStrategy as 'REPRESENTATIVE' }),
    timeline: t.field({ type: ReplayTimeline, resolve: (v) => v }),
    zones: t.field({ type: [Zone], resolve: (v) => v.layout.zones }),
    layers: t.field({ type: [Layer], resolve: () => LAYERS }),
    initialState: t.field({ type: WorldState, resolve: (v, _, ctx) => ctx.services.worldState(v, 0) }),
    eventMarkers: t.field({ type: [EventMarker], resolve: (v, _, ctx) => markersOf(v, ctx.services.timelineMarkers) }),
    state: t.field({
      type: WorldState,
      description: 'The world at a tick, rebuilt from the nearest keyframe at or before it.',
      args: {
        tick: t.arg.int({ required: true }),
        includeAgents: t.arg.boolean({ defaultValue: true }),
        layers: t.arg.stringList({
          description: 'Layer ids (stance, emotion, influence) the client draws; checked, while every agent value is always included.',
        }),
      },
      resolve: (v, args, ctx) => ctx.services.worldState(v, args.tick, args.includeAgents ?? true, args.layers),
    }),
  }),
});

const DownsamplingInput = builder.inputType('DownsamplingInput', {
  fields: (t) => ({
    maxAgents: t.int({ defaultValue: 1000 }),
    samplingStrategy: t.field({ type: SamplingStrategy, defaultValue: 'REPRESENTATIVE' }),
  }),
});
const LoadReplayInput = builder.inputType('LoadReplayInput', {
  fields: (t) => ({
    nodeId: t.id({ required: true }),
    layoutProfile: t.string({ defaultValue: 'default' }),
    downsampling: t.field({ type: DownsamplingInput }),
    preloadTicks: t.int({ defaultValue: 10 }),
  }),
});
const TickRange = builder.simpleObject('TickRange', { fields: (t) => ({ start: t.int(), end: t.int() }) });
const SeekResult = builder.simpleObject('SeekResult', {
  fields: (t) => ({
    tick: t.int(),
    state: t.field({ type: WorldState }),
    preloadedRange: t.field({ type: TickRange }),
    nearestKeyframe: t.int(),
  }),
});

builder.queryFields((t) => ({
  replaySession: t.field({
    type: ReplaySession,
    nullable: true,
    description: 'An open replay session (any valid token); null once closed or expired.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, args, ctx) => {
      const view = await ctx.services.replaySession(ctx.viewer, args.id);
      // Only a completed run's telemetry is final; anything else may still change (and so is not HTTP-cacheable).
      if (view?.simulation.status !== 'COMPLETED') ctx.readsMutableData = true;
      return view;
    },
  }),
}));

builder.mutationFields((t) => ({
  loadReplay: t.field({
    type: ReplaySession,
    description: 'Opens a read-only replay of a recorded simulation; never changes its telemetry.',
    args: { input: t.arg({ type: LoadReplayInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.loadReplay(ctx.viewer, input),
  }),
  seekReplay: t.field({
    type: SeekResult,
    args: { sessionId: t.arg.id({ required: true }), tick: t.arg.int({ required: true }), preloadRange: t.arg.int({ defaultValue: 10 }) },
    resolve: (_, args, ctx) => ctx.services.seekReplay(ctx.viewer, args.sessionId, args.tick, args.preloadRange ?? 10),
  }),
  closeReplay: t.field({
    type: 'Boolean',
    description: 'True when the session was open; false when it was unknown or already closed.',
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.services.closeReplay(ctx.viewer, args.sessionId),
  }),
}));

const Transition = builder.simpleObject('Transition', {
  fields: (t) => ({
    tick: t.int(),
    agentId: t.id(),
    fromZone: t.string(),
    toZone: t.string(),
    reason: t.string({ nullable: true }),
    fromPosition: t.field({ type: Point }),
    toPosition: t.field({ type: Point }),
  }),
});

const ReplayChunk = builder.simpleObject('ReplayChunk', {
  fields: (t) => ({
    startTick: t.int(),
    endTick: t.int(),
    chunkSize: t.int(),
    states: t.field({ type: [WorldState] }),
    transitions: t.field({ type: [Transition], description: "The sampled agents' zone moves." }),
    eventsInRange: t.field({ type: [ActiveEvent], description: 'Events active at some tick of the chunk.' }),
  }),
});

builder.objectField(ReplaySession, 'chunk', (t) =>
  t.field({
    type: ReplayChunk,
    description: 'At most 100 ticks at once.',
    args: {
      startTick: t.arg.int({ required: true }),
      endTick: t.arg.int({ required: true }),
      includeTransitions: t.arg.boolean({ defaultValue: true }),
    },
    resolve: (v, args, ctx) => ctx.services.chunk(v, args.startTick, args.endTick, args.includeTransitions ?? true),
  }),
);

const StateFrame = builder.objectRef<Extract<Frame, { kind: 'state' }>>('StateFrame').implement({
  fields: (t) => ({ tick: t.exposeInt('tick'), state: t.field({ type: WorldState, resolve: (f) => f.state }) }),
});
const TransitionFrame = builder.objectRef<Extract<Frame, { kind: 'transition' }>>('TransitionFrame').implement({
  fields: (t) => ({ tick: t.exposeInt('tick'), transition: t.field({ type: Transition, resolve: (f) => f.transition }) }),
});
const MarkerFrame = builder.objectRef<Extract<Frame, { kind: 'marker' }>>('MarkerFrame').implement({
  fields: (t) => ({ tick: t.exposeInt('tick'), event: t.field({ type: ActiveEvent, resolve: (f) => f.event }) }),
});
const EndFrame = builder.objectRef<Extract<Frame, { kind: 'end' }>>('EndFrame').implement({
  fields: (t) => ({ finalTick: t.exposeInt('finalTick'), sessionId: t.exposeID('sessionId') }),
});

const PlaybackFrame = builder.unionType('PlaybackFrame', {
  types: [StateFrame, TransitionFrame, MarkerFrame, EndFrame],
  resolveType: (frame) => ({ state: StateFrame, transition: TransitionFrame, marker: MarkerFrame, end: EndFrame })[frame.kind],
});

builder.subscriptionFields((t) => ({
  replayPlayback: t.field({
    type: PlaybackFrame,
    description: `Per tick its transition and marker frames, then its state frame, at speed × PLAYBACK_TICKS_PER_SECOND; then an EndFrame. Speed is at most ${MAX_PLAYBACK_SPEED}, which plays unpaced: as fast as the subscriber takes the frames.`,
    args: {
      sessionId: t.arg.id({ required: true }),
      startTick: t.arg.int({ defaultValue: 0 }),
      speed: t.arg.float({ defaultValue: 1.0 }),
    },
    subscribe: async (_, args, ctx) =>
      guardStream(await ctx.services.replayPlayback(ctx.viewer, args.sessionId, args.startTick ?? 0, args.speed ?? 1), requireViewer(ctx.viewer)),
    resolve: (frame) => frame,
  }),
}));

const TrajectorySummary = builder.simpleObject('TrajectorySummary', {
  fields: (t) => ({
    zonesVisited: t.stringList({ description: 'In order of first visit, starting with the zone at tick 0.' }),
    totalTransitions: t.int(),
    finalDecision: t.string({ nullable: true, description: 'The recent action at the last tick.' }),
    decisionTick: t.int({ nullable: true, description: 'When it settled: the tick of its last zone move.' }),
  }),
});
const KeyMoment = builder.simpleObject('KeyMoment', {
  fields: (t) => ({ tick: t.int(), event: t.string(), stateChange: t.field({ type: 'JSON' }) }),
});
const InfluenceConnection = builder.simpleObject('InfluenceConnection', {
  fields: (t) => ({ agentId: t.id(), strength: t.float(), direction: t.string({ description: 'incoming | outgoing' }) }),
});
const AgentFocus = builder.simpleObject('AgentFocus', {
  fields: (t) => ({
    agentId: t.id(),
    personaName: t.string({ nullable: true }),
    segment: t.string({ nullable: true }),
    currentState: t.field({ type: AgentState, description: 'At the last recorded tick.' }),
    reasoning: t.string({ nullable: true, description: 'Its reasoning at the last tick, when includeReasoning is true.' }),
    trajectorySummary: t.field({ type: TrajectorySummary }),
    keyMoments: t.field({ type: [KeyMoment], description: 'Ticks where its stance moved by 0.15 or more, with the event active in its zone.' }),
    influenceConnections: t.field({ type: [InfluenceConnection] }),
  }),
});

builder.objectField(ReplaySession, 'agent', (t) =>
  t.field({
    type: AgentFocus,
    nullable: true,
    description: 'One agent of the run (sampled or not); null for an id the run does not have.',
    args: { agentId: t.arg.id({ required: true }), includeReasoning: t.arg.boolean({ defaultValue: false }) },
    resolve: (v, args, ctx) => ctx.services.agentFocus(v, args.agentId, args.includeReasoning ?? false),
  }),
);
