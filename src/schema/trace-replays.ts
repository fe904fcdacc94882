import type { TraceReplay as TraceReplayShape } from '../services/trace-replays.js';
import { builder } from './builder.js';
import { Trace } from './traces.js';

const ReplayMetadata = builder.objectRef<TraceReplayShape['metadata']>('ReplayMetadata').implement({
  fields: (t) => ({
    requestedAt: t.expose('requestedAt', { type: 'DateTime' }),
    includeContext: t.exposeBoolean('includeContext'),
    timeScale: t.exposeFloat('timeScale'),
    originalEventType: t.exposeString('originalEventType'),
    replayAvailable: t.exposeBoolean('replayAvailable', { description: 'False for a trace that is itself a replay.' }),
  }),
});

const ContextDiff = builder.simpleObject('ContextDiff', {
  fields: (t) => ({
    path: t.string({ description: '`$` is the root; then `.key` and `[index]` steps.' }),
    original: t.field({ type: 'JSON', nullable: true }),
    replayed: t.field({ type: 'JSON', nullable: true }),
  }),
});

const ReplayResult = builder.objectRef<NonNullable<TraceReplayShape['result']>>('ReplayResult').implement({
  fields: (t) => ({
    contextState: t.field({ type: 'JSON', resolve: (r) => r.contextState }),
    fusionTimestamp: t.expose('fusionTimestamp', { type: 'DateTime' }),
    isReplay: t.exposeBoolean('isReplay'),
    originalTimestamp: t.expose('originalTimestamp', { type: 'DateTime' }),
    matchesOriginal: t.exposeBoolean('matchesOriginal'),
    diff: t.field({ type: [ContextDiff], description: 'Empty when they match.', resolve: (r) => r.diff }),
  }),
});

const TraceReplay = builder.objectRef<TraceReplayShape>('TraceReplay').implement({
  fields: (t) => ({
    trace: t.field({ type: Trace, description: 'The original, untouched.', resolve: (r) => r.trace }),
    replay: t.field({ type: Trace, nullable: true, description: 'The lineage row this replay wrote.', resolve: (r) => r.replay }),
    metadata: t.field({ type: ReplayMetadata, resolve: (r) => r.metadata }),
    result: t.field({ type: ReplayResult, nullable: true, description: 'Null when includeContext is false.', resolve: (r) => r.result }),
  }),
});

builder.mutationFields((t) => ({
  replayTrace: t.field({
    type: TraceReplay,
    description: 'Re-runs fusion on the stored sources over the state before the trace; the original is never written.',
    args: {
      traceId: t.arg.id({ required: true }),
      includeContext: t.arg.boolean({ defaultValue: true }),
      timeScale: t.arg.float({ defaultValue: 1.0 }),
      replaySource: t.arg.string({ defaultValue: 'api', required: true, description: 'Where the replay comes from, kept on its lineage.' }),
      requestId: t.arg.id({ description: 'Idempotency key.' }),
    },
    // Nullable with defaults, as the contract types them; an explicit null means the default.
    resolve: (_, args, ctx) =>
      ctx.services.replayTrace(ctx.viewer, { ...args, includeContext: args.includeContext ?? true, timeScale: args.timeScale ?? 1.0 }),
  }),
}));
