import { GraphQLError } from 'graphql';
import type { Plugin, YogaLogger } from 'graphql-yoga';
import { AppError, ERROR_CODES } from '../errors.js';

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Turns the error catalogue into GraphQL errors with `extensions.code`; request errors (syntax, validation,
 * variable coercion) are BAD_USER_INPUT; anything else is INTERNAL_SERVER_ERROR, with its details only in
 * development.
 */
export function maskError(error: unknown, message: string, isDev: boolean, logger: YogaLogger): Error {
  const graphqlError = error instanceof GraphQLError ? error : null;
  const original = graphqlError?.originalError ?? (graphqlError ? undefined : error);
  const location = { nodes: graphqlError?.nodes, positions: graphqlError?.positions, source: graphqlError?.source, path: graphqlError?.path };
  if (original instanceof AppError) {
    // No `originalError`: Yoga treats a GraphQL error wrapping a non-GraphQL error as unexpected, and answered a
    // refused subscription over SSE (no `data` key) with HTTP 500 instead of a stream carrying the coded error.
    return new GraphQLError(original.message, {
      ...location,
      extensions: {
        code: original.code,
        ...original.fields,
        ...(original.httpStatus ? { http: { status: original.httpStatus } } : {}),
      },
    });
  }
  if (graphqlError && (original === undefined || original instanceof GraphQLError)) {
    const source = original instanceof GraphQLError ? original : graphqlError;
    // Yoga's own codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_REQUEST) are not in the contract's
    // list: they become BAD_USER_INPUT, keeping the rest of the extensions (Yoga's `http` status among them).
    return typeof source.extensions.code === 'string' && CODES.has(source.extensions.code)
      ? graphqlError
      : new GraphQLError(graphqlError.message, { ...location, extensions: { ...source.extensions, code: 'BAD_USER_INPUT' } });
  }
  logger.error(original ?? error);
  return new GraphQLError(isDev && original instanceof Error ? original.message : message, {
    ...location,
    extensions: { code: 'INTERNAL_SERVER_ERROR', ...(isDev && original instanceof Error ? { stack: original.stack } : {}) },
  });
}

/** An error the client caused (a catalogue error other than INTERNAL_SERVER_ERROR, or a request/validation error). */
function isClientError(error: unknown): boolean {
  if (error instanceof AppError) return error.code !== 'INTERNAL_SERVER_ERROR';
  if (!(error instanceof GraphQLError)) return false;
  return error.originalError === undefined || error.originalError === null || isClientError(error.originalError);
}

/**
 * Yoga logs at `error` every error its masking replaced, and maskError replaces every one (to add the code), so
 * each FORBIDDEN or invalid query was logged as a server error with its stack. Client errors go to `debug`.
 */
export function quietClientErrors(logger: YogaLogger): YogaLogger {
  return {
    debug: (...args) => logger.debug(...args),
    info: (...args) => logger.info(...args),
    warn: (...args) => logger.warn(...args),
    error: (...args) => (isClientError(args[0]) ? logger.debug(...args) : logger.error(...args)),
  };
}

/**
 * Validation errors are results, not thrown errors, so masking never sees them, and Yoga labels them
 * GRAPHQL_VALIDATION_FAILED. The contract's code for a bad request is BAD_USER_INPUT, on every transport.
 */
export const useContractValidationCodes = (): Plugin => ({
  onValidate: () => ({ valid, result }) => {
    if (valid) return;
    for (const error of result) {
      const extensions = error.extensions as Record<string, unknown>;
      if (typeof extensions.code !== 'string' || !CODES.has(extensions.code)) extensions.code = 'BAD_USER_INPUT';
    }
  },
});
