import { decodeCursor, encodeCursor, type CursorKey } from '../domain/cursors.js';
import { badInput } from '../errors.js';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** One page of a connection, transport-free; `totalCount` runs only when a client asks for it. */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: () => Promise<number>;
}

export const DEFAULT_PAGE_SIZE = 50;

/**
 * The validated page size: `first` defaults to 50 (or the cap, when MAX_PAGE_SIZE is set below 50, so a plain
 * query never fails); an explicit value above the configured cap is an error, never a silent clamp.
 */
export function pageSize(args: PageArgs, maxPageSize: number): number {
  const first = args.first ?? Math.min(DEFAULT_PAGE_SIZE, maxPageSize);
  if (first < 0) throw badInput('first must not be negative', 'first');
  if (first > maxPageSize) throw badInput(`first must be at most ${maxPageSize}`, 'first', { max: maxPageSize });
  return first;
}

/** What each part of a list's sort key is: epoch milliseconds, a sequence number, or a string. */
export type CursorPart = 'time' | 'seq' | 'string';

const MAX_TIME_MS = 8.64e15;

const partIsValid: Record<CursorPart, (part: string | number) => boolean> = {
  time: (part) => typeof part === 'number' && Number.isInteger(part) && Math.abs(part) <= MAX_TIME_MS,
  seq: (part) => typeof part === 'number' && Number.isSafeInteger(part) && part >= 0,
  string: (part) => typeof part === 'string',
};

/**
 * The keyset position an `after` cursor names, or null for the first page. A cursor of another list, or one
 * whose parts are not what this list sorts by (a forged one), is a bad input rather than a failing query.
 */
export function afterKey(list: string, args: PageArgs, parts: readonly CursorPart[]): CursorKey | null {
  if (args.after === undefined || args.after === null) return null;
  const key = decodeCursor(list, args.after, parts.length);
  if (!key || !key.every((part, i) => partIsValid[parts[i]!](part))) throw badInput('after is not a cursor of this list', 'after');
  return key;
}

/** Builds a page from up to `size + 1` rows read past the cursor (the extra row only says there is more). */
export function toPage<T>(
  list: string,
  rows: T[],
  size: number,
  args: PageArgs,
  keyOf: (row: T) => CursorKey,
  totalCount: () => Promise<number>,
): Page<T> {
  const nodes = rows.slice(0, size);
  return {
    // Cursors are made when read: most clients ask only for pageInfo's endCursor, not one per edge.
    edges: nodes.map((node) => ({
      get cursor() {
        return encodeCursor(list, keyOf(node));
      },
      node,
    })),
    hasNextPage: rows.length > size,
    hasPreviousPage: args.after !== undefined && args.after !== null,
    totalCount,
  };
}
