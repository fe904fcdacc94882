import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { OperationTypeNode, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { selectsOnly } from './operation-roots.js';

/** The mutations whose variables carry bulk data: a recordTicks call holds up to 1,000 ticks of every agent. */
const BULK_WRITES = new Set(['recordTicks', 'importEvents']);

/**
 * Runs the bulk-write mutations on graphql-jit, whose variable coercion is compiled per operation: graphql-js
 * walks every input object generically, which cost more than storing the rows (about half of recordTicks'
 * server time in the ingest-bulk profile). Everything else keeps the reference executor, whose behaviour the
 * subscriptions and error paths are built and tested on. Bad variables are handed back to it too: graphql-jit's
 * messages do not say which of 100,000 inputs was wrong, graphql-js's do (`at "ticks[3].agents[17].stance"`).
 */
export function useCompiledBulkWrites(): Plugin {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();
  const compiledFor = (schema: Parameters<typeof compileQuery>[0], document: DocumentNode, operationName: string | undefined) => {
    const byName = compiled.get(document) ?? new Map<string, CompiledQuery | null>();
    compiled.set(document, byName);
    if (!byName.has(operationName ?? '')) {
      const result = compileQuery(schema, document, operationName);
      byName.set(operationName ?? '', isCompiledQuery(result) ? result : null);
    }
    return byName.get(operationName ?? '') ?? null;
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (!selectsOnly(args.document, args.operationName, OperationTypeNode.MUTATION, BULK_WRITES)) return;
      const query = compiledFor(args.schema, args.document, args.operationName ?? undefined);
      if (!query) return;
      setExecuteFn(async (execution) => {
        const result = (await query.query(execution.rootValue, execution.contextValue, execution.variableValues)) as ExecutionResult;
        // No `data` key: the variables were refused before anything ran.
        return 'data' in result ? result : executeFn(execution);
      });
    },
  };
}
