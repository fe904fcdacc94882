/**
 * Opaque keyset cursors: the sort key of the last row seen, tagged with the list it belongs to so a cursor
 * from one list is refused by another. Returns null for anything malformed; callers turn that into an error.
 */
export type CursorKey = readonly (string | number)[];

export function encodeCursor(list: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify([list, ...key])).toString('base64url');
}

export function decodeCursor(list: string, cursor: string, arity: number): CursorKey | null {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(decoded) || decoded[0] !== list || decoded.length !== arity + 1) return null;
    const key = decoded.slice(1);
    return key.every((part) => typeof part === 'string' || typeof part === 'number') ? key : null;
  } catch {
    return null;
  }
}
