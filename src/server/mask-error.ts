import { GraphQLError } from 'graphql';
import type { YogaLogger } from 'graphql-yoga';
import { AppError } from '../errors.js';

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
    return new GraphQLError(original.message, {
      ...location,
      originalError: original,
      extensions: {
        code: original.code,
        ...original.fields,
        ...(original.httpStatus ? { http: { status: original.httpStatus } } : {}),
      },
    });
  }
  if (graphqlError && (original === undefined || original instanceof GraphQLError)) {
    const source = original instanceof GraphQLError ? original : graphqlError;
    return source.extensions.code
      ? graphqlError
      : new GraphQLError(graphqlError.message, { ...location, extensions: { ...source.extensions, code: 'BAD_USER_INPUT' } });
  }
  logger.error(original ?? error);
  return new GraphQLError(isDev && original instanceof Error ? original.message : message, {
    ...location,
    extensions: { code: 'INTERNAL_SERVER_ERROR', ...(isDev && original instanceof Error ? { stack: original.stack } : {}) },
  });
}
