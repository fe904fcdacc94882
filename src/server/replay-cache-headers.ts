import { OperationTypeNode } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { GraphQLContext } from '../context.js';
import { selectsOnly } from './operation-roots.js';

/** Root fields whose answers never change once a run is completed (replaySession marks itself otherwise). */
const IMMUTABLE_ROOTS = new Set(['replaySession', 'layoutProfiles', '__typename']);

export const IMMUTABLE_CACHE_CONTROL = 'private, max-age=86400, immutable';

/**
 * Says so in HTTP when a GraphQL-over-GET query read only immutable data (a completed run's replay, the
 * layouts): `Cache-Control: private, max-age=86400, immutable`, so browsers and clients can reuse it.
 * `private`, because the answer was given to a bearer token. Everything else gets no caching header.
 */
export function useReplayCacheHeaders(): Plugin<Record<string, unknown>, GraphQLContext & YogaInitialContext> {
  const cacheable = new WeakSet<Request>();
  return {
    onExecute({ args }) {
      const context = args.contextValue as unknown as GraphQLContext & YogaInitialContext;
      if (context.request?.method !== 'GET') return;
      if (!selectsOnly(args.document, args.operationName, OperationTypeNode.QUERY, IMMUTABLE_ROOTS)) return;
      return {
        onExecuteDone({ result }) {
          const done = result as { errors?: readonly unknown[] };
          if (!context.readsMutableData && !(Symbol.asyncIterator in (result as object)) && !done.errors?.length) cacheable.add(context.request);
        },
      };
    },
    onResponse({ request, response }) {
      if (cacheable.has(request)) response.headers.set('cache-control', IMMUTABLE_CACHE_CONTROL);
    },
  };
}
