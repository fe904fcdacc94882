import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { Limits } from '../config.js';

/**
 * Depth, alias, cost, token and directive limits, checked in validation: they hold on every transport,
 * WebSocket included, because graphql-ws operations go through the same enveloped validate.
 */
export const useLimits = (limits: Limits) => [
  EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: limits.maxAliases },
    costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true },
    maxTokens: { n: 5000 },
    maxDirectives: { n: 50 },
    blockFieldSuggestion: { enabled: false },
  }),
];
