import { badInput } from '../errors.js';

/** Shared input rules: ids and names are non-empty, trimmed-length bounded strings. */
export function requireId(value: string, field: string, maxLength = 200): string {
  if (value.trim() === '') throw badInput(`${field} must not be empty`, field);
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
