import type { JsonObject } from '../domain/json.js';
import type { TraceRow } from '../store/traces.js';

/** Every topic, its payload, and the id that scopes it (`contextUpdated:{personId}`). */
export interface Topics {
  /** A person's session context changed; published after the update committed. Scoped by person id. */
  contextUpdated: { trace: TraceRow; context: JsonObject };
  /** A project's stream grew up to `sequence` (subscribers read the new events from the store). Scoped by project id. */
  projectEvents: { sequence: string };
}

export type TopicName = keyof Topics;
