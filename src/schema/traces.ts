import { requirePerson } from '../auth/access.js';
import type { TraceView } from '../store/traces.js';
import { builder } from './builder.js';
import { connectionOf, pageArgs } from './connections.js';
import { Session } from './sessions.js';

export const Trace = builder.objectRef<TraceView>('Trace');

Trace.implement({
  description: 'One context update, stored immutably; or a replay of one, pointing at it with replayOf.',
  fields: (t) => ({
    id: t.exposeID('id'),
    personId: t.exposeID('personId'),
    sessionId: t.exposeID('sessionId'),
    eventType: t.exposeString('eventType'),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    receivedAt: t.expose('receivedAt', { type: 'DateTime', description: 'When the gateway received it.' }),
    eventData: t.field({
      type: 'JSON',
      description: '{ sources: [...as received], fusion: { state, provenance, fusedAt, algorithm } }',
      resolve: (trace) => trace.eventData,
    }),
    contextSnapshot: t.field({
      type: 'JSON',
      nullable: true,
      description: "The session's fused context after this event; null when storeSnapshot was false.",
      resolve: (trace) => (trace.snapshotStored ? trace.contextAfter : null),
    }),
    replayOf: t.field({
      type: Trace,
      nullable: true,
      description: 'The original this trace replays; null for originals, or once the original was deleted.',
      resolve: (trace, _, ctx) => {
        requirePerson(ctx.viewer, trace.personId);
        return trace.replayOfId ? ctx.loaders.traceById.load(trace.replayOfId) : null;
      },
    }),
    replayOfId: t.exposeID('replayOfId', { nullable: true, description: 'Lineage kept even after the original is gone.' }),
    replaySource: t.exposeString('replaySource', { nullable: true }),
    replayedBy: t.exposeID('replayedBy', { nullable: true, description: 'The person whose token asked for the replay.' }),
    replays: t.field({
      type: [Trace],
      description: 'Replays of this trace, oldest first.',
      resolve: (trace, _, ctx) => {
        requirePerson(ctx.viewer, trace.personId);
        return ctx.loaders.replaysOf.load(trace.id);
      },
    }),
    session: t.field({
      type: Session,
      // The session's summary (its context is what updateContext answers anyway); its history, Session.traces,
      // and the replay links are for the person or an admin only, not for an ingest service that wrote this trace.
      resolve: async (trace, _, ctx) => {
        const session = await ctx.loaders.session.load({ personId: trace.personId, sessionId: trace.sessionId });
        if (!session) throw new Error(`Session of trace ${trace.id} is missing`);
        return session;
      },
    }),
  }),
});

export const TraceConnection = connectionOf('Trace', Trace);

const TraceFilter = builder.inputType('TraceFilter', {
  fields: (t) => ({
    personId: t.id(),
    sessionId: t.id(),
    eventTypes: t.stringList(),
    from: t.field({ type: 'DateTime' }),
    to: t.field({ type: 'DateTime' }),
    replayed: t.boolean({ description: 'true: only replays; false: only originals; absent: both.' }),
  }),
});

const PersonCount = builder.simpleObject('PersonCount', { fields: (t) => ({ personId: t.id(), traceCount: t.int() }) });
const EventTypeCount = builder.simpleObject('EventTypeCount', { fields: (t) => ({ eventType: t.string(), count: t.int() }) });
const DailyCount = builder.simpleObject('DailyCount', {
  fields: (t) => ({ date: t.string({ description: 'YYYY-MM-DD (UTC)' }), traceCount: t.int() }),
});
const TraceStats = builder.simpleObject('TraceStats', {
  fields: (t) => ({
    totalTraces: t.int(),
    originalCount: t.int(),
    replayedCount: t.int(),
    topPersons: t.field({ type: [PersonCount] }),
    eventTypes: t.field({ type: [EventTypeCount] }),
    recentActivity: t.field({ type: [DailyCount], description: 'One row per day in range, zeros included.' }),
    statsTimestamp: t.field({ type: 'DateTime' }),
  }),
});

const DeleteTracePayload = builder.simpleObject('DeleteTracePayload', { fields: (t) => ({ deletedId: t.id() }) });
const CleanupPayload = builder.simpleObject('CleanupPayload', {
  fields: (t) => ({ deletedCount: t.int(), cutoff: t.field({ type: 'DateTime' }) }),
});

const requestIdArg = builder.args((t) => ({
  requestId: t.id({ description: 'Idempotency key: a retry with the same key returns the first result and writes nothing.' }),
}));

builder.queryFields((t) => ({
  trace: t.field({
    type: Trace,
    nullable: true,
    description: "A trace by id; null when it does not exist or is another person's.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.services.getTrace(ctx.viewer, args.id),
  }),
  traces: t.field({
    type: TraceConnection,
    description: 'Newest first.',
    args: { filter: t.arg({ type: TraceFilter }), ...pageArgs },
    resolve: (_, args, ctx) => ctx.services.traces(ctx.viewer, args.filter ?? {}, args),
  }),
  traceStats: t.field({
    type: TraceStats,
    description: 'Admin only.',
    args: { recentDays: t.arg.int({ defaultValue: 7 }), topPersons: t.arg.int({ defaultValue: 10 }) },
    resolve: (_, args, ctx) => ctx.services.traceStats(ctx.viewer, args.recentDays ?? 7, args.topPersons ?? 10),
  }),
}));

builder.mutationFields((t) => ({
  deleteTrace: t.field({
    type: DeleteTracePayload,
    description: 'The owner or an admin.',
    args: { id: t.arg.id({ required: true }), ...requestIdArg },
    resolve: (_, args, ctx) => ctx.services.deleteTrace(ctx.viewer, args.id, args.requestId),
  }),
  cleanupTraces: t.field({
    type: CleanupPayload,
    description: 'Admin only: deletes traces older than daysToKeep days.',
    args: { daysToKeep: t.arg.int({ defaultValue: 30 }), ...requestIdArg },
    resolve: (_, args, ctx) => ctx.services.cleanupTraces(ctx.viewer, args.daysToKeep ?? 30, args.requestId),
  }),
}));
