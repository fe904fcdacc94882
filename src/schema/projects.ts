import { requireViewer } from '../auth/access.js';
import type { DataItem as DataItemShape } from '../domain/project-state.js';
import { guardStream } from '../realtime/guarded-stream.js';
import type { ProjectView } from '../services/project-reads.js';
import type { StreamEvent as StreamEventShape } from '../services/stream-events.js';
import { builder } from './builder.js';
import { connectionOf, pageArgs } from './connections.js';

const StreamEvent = builder.objectRef<StreamEventShape>('StreamEvent').implement({
  description: 'One immutable event of a project stream.',
  fields: (t) => ({
    sequence: t.exposeString('sequence', { description: '"{unixMs}-{n}", strictly increasing per project.' }),
    projectId: t.exposeID('projectId'),
    eventType: t.exposeString('eventType', { description: 'data_published | agent_registered' }),
    data: t.field({ type: 'JSON', resolve: (e) => e.data }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
  }),
});

const StreamEventConnection = connectionOf('StreamEvent', StreamEvent);

const DataItem = builder.objectRef<DataItemShape>('DataItem').implement({
  fields: (t) => ({
    dataKey: t.exposeString('dataKey'),
    data: t.field({ type: 'JSON', resolve: (item) => item.data }),
    description: t.exposeString('description', { nullable: true }),
    sequence: t.exposeString('sequence', { description: 'The event that set this value.' }),
    updatedAt: t.field({ type: 'DateTime', resolve: (item) => new Date(item.updatedAt) }),
  }),
});

const KeyCount = builder.simpleObject('KeyCount', { fields: (t) => ({ dataKey: t.string(), count: t.int() }) });
const HourCount = builder.simpleObject('HourCount', {
  fields: (t) => ({ hour: t.field({ type: 'DateTime', description: 'The start of the UTC hour.' }), count: t.int() }),
});

const Project = builder.objectRef<ProjectView>('Project').implement({
  description: "A project's append-only event stream.",
  fields: (t) => ({
    id: t.exposeID('id'),
    eventCount: t.exposeInt('eventCount'),
    lastSequence: t.exposeString('lastSequence', { nullable: true }),
    events: t.field({
      type: StreamEventConnection,
      description: 'Oldest first: events strictly after `since`, up to and including `until`. Each cursor is its sequence.',
      args: { since: t.arg.string({ defaultValue: '0' }), first: t.arg.int(), until: t.arg.string() },
      resolve: (project, args, ctx) => ctx.services.events(ctx.viewer, project.id, args),
    }),
    stateAt: t.field({
      type: [DataItem],
      description: 'The latest value of every key as of `at` or `sequence` (neither: now), by key.',
      args: { at: t.arg({ type: 'DateTime' }), sequence: t.arg.string() },
      resolve: (project, args, ctx) => ctx.services.stateAt(ctx.viewer, project.id, args),
    }),
    topKeys: t.field({
      type: [KeyCount],
      description: 'The most frequently updated data keys.',
      args: { limit: t.arg.int({ defaultValue: 5 }) },
      resolve: (project, args, ctx) => ctx.services.topKeys(ctx.viewer, project.id, args.limit ?? 5),
    }),
    updatesByHour: t.field({
      type: [HourCount],
      description: 'data_published events per UTC hour from `from` to `to` (default: the last 24 hours), zeros included.',
      args: { from: t.arg({ type: 'DateTime' }), to: t.arg({ type: 'DateTime' }) },
      resolve: (project, args, ctx) => ctx.services.updatesByHour(ctx.viewer, project.id, args),
    }),
  }),
});

const ProjectConnection = connectionOf('Project', Project);

const AgentRegistration = builder.simpleObject('AgentRegistration', {
  fields: (t) => ({
    agentId: t.id(),
    matchedData: t.field({ type: [DataItem], description: 'The latest value of each key matching a need, published after lastSeenSequence.' }),
    caughtUpTo: t.string({ nullable: true, description: 'The sequence of the agent_registered event.' }),
  }),
});

const StreamEventInput = builder.inputType('StreamEventInput', {
  fields: (t) => ({
    sequence: t.string({ required: true }),
    eventType: t.string({ required: true }),
    data: t.field({ type: 'JSON', required: true }),
    timestamp: t.field({ type: 'DateTime' }),
  }),
});

const ImportPayload = builder.simpleObject('ImportPayload', {
  fields: (t) => ({ importedCount: t.int(), skippedCount: t.int({ description: 'Already present: re-importing is a no-op.' }), lastSequence: t.string({ nullable: true }) }),
});

builder.queryFields((t) => ({
  project: t.field({
    type: Project,
    nullable: true,
    description: 'Null until the project has its first event.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.services.project(ctx.viewer, args.id),
  }),
  projects: t.field({
    type: ProjectConnection,
    description: 'The projects this token may read, by id.',
    args: pageArgs,
    resolve: (_, args, ctx) => ctx.services.projects(ctx.viewer, args),
  }),
}));

builder.mutationFields((t) => ({
  publishData: t.field({
    type: StreamEvent,
    description: 'Appends a data_published event (ingest or admin).',
    args: {
      projectId: t.arg.id({ required: true }),
      dataKey: t.arg.string({ required: true }),
      data: t.arg({ type: 'JSON', required: true }),
      description: t.arg.string(),
      clientEventId: t.arg.id({ description: 'Idempotency key: a retry returns the first event and writes nothing.' }),
    },
    resolve: (_, args, ctx) => ctx.services.publishData(ctx.viewer, args),
  }),
  registerAgent: t.field({
    type: AgentRegistration,
    description: 'Catches an agent up on the data it needs and appends an agent_registered event (ingest or admin).',
    args: {
      projectId: t.arg.id({ required: true }),
      agentId: t.arg.id({ required: true }),
      dataNeeds: t.arg.stringList({ required: true }),
      lastSeenSequence: t.arg.string({ defaultValue: '0' }),
      clientEventId: t.arg.id({ description: 'Idempotency key: a retry returns the first registration and appends nothing.' }),
    },
    resolve: (_, args, ctx) => ctx.services.registerAgent(ctx.viewer, { ...args, lastSeenSequence: args.lastSeenSequence ?? '0' }),
  }),
  importEvents: t.field({
    type: ImportPayload,
    description: 'Restores exported events with their sequences; re-importing is a no-op (ingest or admin, at most 1000 per call).',
    args: { projectId: t.arg.id({ required: true }), events: t.arg({ type: [StreamEventInput], required: true }) },
    resolve: (_, args, ctx) => ctx.services.importEvents(ctx.viewer, args.projectId, args.events),
  }),
}));

builder.subscriptionFields((t) => ({
  projectEvents: t.field({
    type: StreamEvent,
    description: 'Every stored event after `since` (without it: from now on), then live ones, in order, with no gap or repeat.',
    args: { projectId: t.arg.id({ required: true }), since: t.arg.string() },
    subscribe: async (_, args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return guardStream(await ctx.services.projectEvents(viewer, args.projectId, args.since), viewer);
    },
    resolve: (event) => event,
  }),
}));
