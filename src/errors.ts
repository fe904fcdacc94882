/**
 * The error catalogue. Services throw these (they know nothing of GraphQL); the server turns each into a
 * GraphQL error whose `extensions.code` is the code below, with the structured fields beside it.
 */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'SESSION_NOT_FOUND',
  'INVALID_TICK',
  'NO_TELEMETRY',
  'CONFLICT',
  'RATE_LIMITED',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const httpStatus: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401 };

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra structured fields reported next to `code` (e.g. `field`, `validRange`). */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  /** The HTTP status the GraphQL-over-HTTP response should carry, when it is not 200. */
  get httpStatus(): number | undefined {
    return httpStatus[this.code];
  }
}

export const badInput = (message: string, field?: string, fields: Record<string, unknown> = {}) =>
  new AppError('BAD_USER_INPUT', message, field ? { field, ...fields } : fields);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const forbidden = (message = 'Not allowed to access this resource') => new AppError('FORBIDDEN', message);
export const unauthenticated = (message = 'A valid bearer token is required') =>
  new AppError('UNAUTHENTICATED', message);
export const rateLimited = (message: string, fields: Record<string, unknown> = {}) =>
  new AppError('RATE_LIMITED', message, fields);
