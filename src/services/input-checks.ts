import { badInput } from '../errors.js';

/** Shared input rules: ids and names are non-blank, length-bounded strings without NUL characters. */
export function requireId(value: string, field: string, maxLength = 200): string {
  if (value.trim() === '') throw badInput(`${field} must not be empty`, field);
  if (value.includes('\u0000')) throw badInput(`${field} must not contain NUL characters`, field);
  if (value.length > maxLength) throw badInput(`${field} must be at most ${maxLength} characters`, field);
  return value;
}

export function requirePositive(value: number, field: string): number {
  if (!Number.isFinite(value) || value <= 0) throw badInput(`${field} must be greater than 0`, field);
  return value;
}

export function requireIntInRange(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be an integer from ${min} to ${max}`, field, { min, max });
  }
  return value;
}

/**
 * PostgreSQL's text and jsonb refuse the NUL character that SQLite stores: refused up front on every store, so
 * the same input behaves the same everywhere (and never surfaces as an internal error).
 */
export function rejectNulCharacters(value: unknown, field: string): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') {
      if (next.includes('\u0000')) throw badInput(`${field} must not contain NUL characters`, field);
    } else if (Array.isArray(next)) stack.push(...next);
    else if (typeof next === 'object' && next !== null) for (const [k, v] of Object.entries(next)) stack.push(k, v);
  }
}
