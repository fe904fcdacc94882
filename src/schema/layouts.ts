import { requireViewer } from '../auth/access.js';
import { LAYOUT_PROFILES, type LayoutProfile as LayoutProfileShape, type Zone as ZoneShape } from '../domain/layouts.js';
import { builder } from './builder.js';

const Rect = builder.simpleObject('Rect', {
  fields: (t) => ({ x: t.float(), y: t.float(), width: t.float(), height: t.float() }),
});

const Size = builder.simpleObject('Size', { fields: (t) => ({ width: t.float(), height: t.float() }) });

export const Zone = builder.objectRef<ZoneShape>('Zone').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    bounds: t.field({ type: Rect, resolve: (zone) => zone.bounds }),
    color: t.exposeString('color', { nullable: true }),
  }),
});

const LayoutProfile = builder.objectRef<LayoutProfileShape>('LayoutProfile').implement({
  description: 'Where zones sit on a replay canvas.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    canvasSize: t.field({ type: Size, resolve: (profile) => profile.canvasSize }),
    zones: t.field({ type: [Zone], resolve: (profile) => profile.zones }),
  }),
});

builder.queryFields((t) => ({
  layoutProfiles: t.field({
    type: [LayoutProfile],
    description: 'The layouts a replay can be loaded with (any valid token).',
    resolve: (_, __, ctx) => {
      requireViewer(ctx.viewer);
      return [...LAYOUT_PROFILES];
    },
  }),
}));
