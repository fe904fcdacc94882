import type { SessionPlaybackFrame as Frame } from '../services/session-playback.js';
import { guardStream } from '../realtime/guarded-stream.js';
import { requireViewer } from '../auth/access.js';
import { builder } from './builder.js';
import { Trace } from './traces.js';

const SessionPlaybackFrame = builder.objectRef<Frame>('SessionPlaybackFrame').implement({
  description: 'One recorded update played back, or the final frame (`done: true`, no trace).',
  fields: (t) => ({
    trace: t.field({ type: Trace, nullable: true, resolve: (f) => f.trace }),
    context: t.field({ type: 'JSON', nullable: true, description: 'The session context after this update.', resolve: (f) => f.context }),
    index: t.exposeInt('index', { description: 'Position from 0; on the final frame, the number of frames sent.' }),
    total: t.exposeInt('total'),
    isReplay: t.exposeBoolean('isReplay', { description: 'Always true: these frames replay history, not live updates.' }),
    done: t.exposeBoolean('done'),
  }),
});

builder.subscriptionFields((t) => ({
  sessionPlayback: t.field({
    type: SessionPlaybackFrame,
    description: 'Replays a stored session: waits the original gap / timeScale (at most maxGapMs) between frames.',
    args: {
      personId: t.arg.id({ required: true }),
      sessionId: t.arg.id({ required: true }),
      timeScale: t.arg.float({ defaultValue: 1.0 }),
      from: t.arg({ type: 'DateTime' }),
      maxGapMs: t.arg.int({ defaultValue: 5000 }),
    },
    // Nullable with defaults, as the contract types them; an explicit null means the default.
    subscribe: async (_, args, ctx) =>
      guardStream(
        await ctx.services.sessionPlayback(ctx.viewer, { ...args, timeScale: args.timeScale ?? 1.0, maxGapMs: args.maxGapMs ?? 5000 }),
        requireViewer(ctx.viewer),
      ),
    resolve: (frame, _, ctx) => {
      ctx.refreshLoaders();
      return frame;
    },
  }),
}));
