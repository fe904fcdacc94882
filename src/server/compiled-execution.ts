import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { getOperationAST, OperationTypeNode, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { stringifyWithJsonText } from '../domain/json-text.js';

/**
 * Runs queries and mutations on graphql-jit: each operation is compiled once (per document) into code that
 * coerces its variables and walks its selections without graphql-js's generic, per-field interpretation. That
 * was about half of recordTicks' server time (100,000 input objects per call) and a tenth of a page of traces.
 * Subscriptions keep the reference executor, whose streams the fan-out, guards and buffers are built on. Bad
 * variables are handed back to it too: graphql-jit's messages do not say which of 100,000 inputs was wrong,
 * graphql-js's do (`at "ticks[3].agents[17].stance"`).
 */
export function useCompiledExecution(): Plugin {
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
      if (getOperationAST(args.document, args.operationName)?.operation === OperationTypeNode.SUBSCRIPTION) return;
      const query = compiledFor(args.schema, args.document, args.operationName ?? undefined);
      if (!query) return;
      setExecuteFn(async (execution) => {
        const result = (await query.query(execution.rootValue, execution.contextValue, execution.variableValues)) as ExecutionResult;
        // No `data` key: the variables were refused before anything ran. Yoga writes a result with its own
        // `stringify`: JSON read as text (JsonText) goes into the response as is.
        return 'data' in result ? Object.assign(result, { stringify: stringifyWithJsonText }) : executeFn(execution);
      });
    },
  };
}
