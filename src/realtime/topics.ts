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

/** How each topic's payload crosses processes (JSON, with its dates revived). */
export const topicCodecs: { [T in TopicName]: { encode(payload: Topics[T]): string; decode(text: string): Topics[T] } } = {
  contextUpdated: {
    encode: (payload) => JSON.stringify(payload),
    decode: (text) => {
      const payload = JSON.parse(text) as Topics['contextUpdated'];
      payload.trace.timestamp = new Date(payload.trace.timestamp);
      payload.trace.receivedAt = new Date(payload.trace.receivedAt);
      return payload;
    },
  },
  projectEvents: {
    encode: (payload) => JSON.stringify(payload),
    decode: (text) => JSON.parse(text) as Topics['projectEvents'],
  },
};
