import type { ObjectRef } from '@pothos/core';
import type { Page } from '../services/pages.js';
import { builder, type PothosTypes } from './builder.js';

interface PageInfoShape {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

/** Forward pagination arguments shared by every connection field. */
export const pageArgs = builder.args((t) => ({
  first: t.int({ description: 'Page size: default 50, at most the configured MAX_PAGE_SIZE (more is an error).' }),
  after: t.string({ description: 'The endCursor of the previous page.' }),
}));

/** A Relay connection `<Name>Connection { edges { cursor node } nodes pageInfo totalCount }` over a service page. */
export function connectionOf<T>(name: string, node: ObjectRef<PothosTypes, T>) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: node, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [Edge], resolve: (page) => page.edges }),
      nodes: t.field({ type: [node], resolve: (page) => page.edges.map((edge) => edge.node) as never }),
      pageInfo: t.field({
        type: PageInfo,
        resolve: (page) => ({
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: page.edges[0]?.cursor ?? null,
          endCursor: page.edges.at(-1)?.cursor ?? null,
        }),
      }),
      totalCount: t.int({ description: 'All items matching, across pages.', resolve: (page) => page.totalCount() }),
    }),
  });
}
