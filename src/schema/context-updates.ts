import { canReadPerson, requirePerson } from '../auth/access.js';
import { guardStream } from '../realtime/guarded-stream.js';
import type { Topics } from '../realtime/topics.js';
import { builder } from './builder.js';
import { Trace } from './traces.js';

const ContextSourceInput = builder.inputType('ContextSourceInput', {
  fields: (t) => ({
    source: t.string({ required: true }),
    data: t.field({ type: 'JSON', required: true, description: 'A JSON object: its top-level keys are fused.' }),
    confidence: t.float({ defaultValue: 1.0, description: 'From 0 to 1; the highest wins each key.' }),
    observedAt: t.field({ type: 'DateTime' }),
  }),
});

const UpdateContextInput = builder.inputType('UpdateContextInput', {
  fields: (t) => ({
    personId: t.id({ required: true }),
    sessionId: t.id({ required: true }),
    sources: t.field({ type: [ContextSourceInput], required: true }),
    eventType: t.string({ defaultValue: 'context_update' }),
    timestamp: t.field({ type: 'DateTime', description: "Defaults to the server's receive time; never before the session's last update." }),
    storeSnapshot: t.boolean({ defaultValue: true }),
    clientEventId: t.id({ description: 'Idempotency key: a retry with the same key returns the first result and writes nothing.' }),
  }),
});

const UpdateContextPayload = builder.objectRef<{ trace: Topics['contextUpdated']['trace']; context: unknown; duplicate: boolean }>(
  'UpdateContextPayload',
);
UpdateContextPayload.implement({
  fields: (t) => ({
    trace: t.field({ type: Trace, resolve: (p) => p.trace }),
    context: t.field({ type: 'JSON', resolve: (p) => p.context }),
    duplicate: t.exposeBoolean('duplicate', { description: 'True when this answers a retry of an earlier clientEventId.' }),
  }),
});

const ContextUpdate = builder.objectRef<Topics['contextUpdated']>('ContextUpdate');
ContextUpdate.implement({
  fields: (t) => ({
    trace: t.field({ type: Trace, resolve: (e) => e.trace }),
    context: t.field({ type: 'JSON', resolve: (e) => e.context }),
    personId: t.id({ resolve: (e) => e.trace.personId }),
    sessionId: t.id({ resolve: (e) => e.trace.sessionId }),
  }),
});

builder.mutationFields((t) => ({
  updateContext: t.field({
    type: UpdateContextPayload,
    args: { input: t.arg({ type: UpdateContextInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.updateContext(ctx.viewer, input),
  }),
}));

builder.subscriptionFields((t) => ({
  contextUpdated: t.field({
    type: ContextUpdate,
    description: "Every update to the person's context (one session's, when sessionId is given), as it commits.",
    args: { personId: t.arg.id({ required: true }), sessionId: t.arg.id() },
    subscribe: (_, { personId, sessionId }, ctx) => {
      const viewer = requirePerson(ctx.viewer, personId);
      // The stream lives as long as the subscription: it keeps what it needs, not the context.
      const events = ctx.services.subscribe('contextUpdated', personId, {
        bufferLimit: ctx.limits.subscriberBufferEvents,
        onOverflow: ctx.closeTransport,
      });
      return guardStream(events, viewer, (e) => canReadPerson(viewer, e.trace.personId) && (!sessionId || e.trace.sessionId === sessionId));
    },
    resolve: (event, _, ctx) => {
      ctx.refreshLoaders();
      return event;
    },
  }),
}));
