import { isJsonObject, type JsonValue } from './json.js';

export interface ContextDifference {
  /** Where the values part: `$` for the root, then `.key` and `[index]` steps, e.g. `$.location.tags[1]`. */
  path: string;
  original: JsonValue;
  replayed: JsonValue;
}

/** Every leaf where two JSON values differ; an absent value is reported as null. Empty when they are equal. */
export function diffContexts(original: JsonValue, replayed: JsonValue, path = '$'): ContextDifference[] {
  if (Array.isArray(original) && Array.isArray(replayed)) {
    const length = Math.max(original.length, replayed.length);
    return Array.from({ length }, (_, i) => diffContexts(original[i] ?? null, replayed[i] ?? null, `${path}[${i}]`)).flat();
  }
  if (isJsonObject(original) && isJsonObject(replayed)) {
    const keys = [...new Set([...Object.keys(original), ...Object.keys(replayed)])].sort();
    return keys.flatMap((key) => diffContexts(original[key] ?? null, replayed[key] ?? null, `${path}.${key}`));
  }
  return original === replayed ? [] : [{ path, original, replayed }];
}
