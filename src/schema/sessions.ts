import type { SessionRow } from '../store/sessions.js';
import { builder } from './builder.js';
import { connectionOf, pageArgs } from './connections.js';
import { TraceConnection } from './traces.js';

export const Session = builder.objectRef<SessionRow>('Session');

Session.implement({
  description: "A person's session: its current fused context and its history of updates.",
  fields: (t) => ({
    personId: t.exposeID('personId'),
    sessionId: t.exposeID('sessionId'),
    traceCount: t.exposeInt('traceCount', { description: 'Updates in its history (replays not counted).' }),
    firstAt: t.expose('firstAt', { type: 'DateTime' }),
    lastAt: t.expose('lastAt', { type: 'DateTime' }),
    context: t.field({ type: 'JSON', description: 'The current fused context.', resolve: (session) => session.context }),
    traces: t.field({
      type: TraceConnection,
      description: 'Its updates, oldest first (replays are listed on each trace instead).',
      args: pageArgs,
      resolve: (session, args, ctx) => ctx.services.sessionTraces(ctx.viewer, session, args),
    }),
  }),
});

const SessionConnection = connectionOf('Session', Session);

builder.queryFields((t) => ({
  session: t.field({
    type: Session,
    nullable: true,
    args: { personId: t.arg.id({ required: true }), sessionId: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => ctx.services.session(ctx.viewer, args.personId, args.sessionId),
  }),
  sessions: t.field({
    type: SessionConnection,
    description: 'Most recently active first.',
    args: { personId: t.arg.id({ required: true }), ...pageArgs },
    resolve: (_, args, ctx) => ctx.services.sessions(ctx.viewer, args.personId, args),
  }),
  contextAt: t.field({
    type: 'JSON',
    nullable: true,
    description: 'The session context as it was at `at`; null before its first update.',
    args: {
      personId: t.arg.id({ required: true }),
      sessionId: t.arg.id({ required: true }),
      at: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: (_, args, ctx) => ctx.services.contextAt(ctx.viewer, args.personId, args.sessionId, args.at),
  }),
}));
