import type { JsonValue } from './json.js';

/** One key's latest value in a project's state. */
export interface DataItem {
  dataKey: string;
  data: JsonValue;
  description: string | null;
  sequence: string;
  updatedAt: string;
}

/** A project's state: every key's latest value (kept in snapshots as this JSON object). */
export type ProjectState = Record<string, DataItem>;

/** Applies data_published events, in sequence order, to a state (a copy; the input is not changed). */
export function applyDataEvents(state: ProjectState, items: readonly DataItem[]): ProjectState {
  const next = { ...state };
  for (const item of items) next[item.dataKey] = item;
  return next;
}

export const stateItems = (state: ProjectState): DataItem[] =>
  Object.values(state).sort((a, b) => (a.dataKey < b.dataKey ? -1 : a.dataKey > b.dataKey ? 1 : 0));
