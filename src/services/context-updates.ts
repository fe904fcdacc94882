import { randomUUID } from 'node:crypto';
import { requireWriteFor } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { applyFusion, fuseSources, type ContextSource } from '../domain/fusion.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../domain/json.js';
import { AppError, badInput } from '../errors.js';
import type { SessionAppend } from '../store/session-appends.js';
import { findTrace, type TraceRow } from '../store/traces.js';
import type { ServiceDeps } from './deps.js';
import { rejectNulCharacters, requireId } from './input-checks.js';

export interface ContextSourceInput {
  source: string;
  /** Must be a JSON object; checked here since GraphQL's JSON scalar accepts any value. */
  data?: unknown;
  confidence?: number | null;
  observedAt?: Date | null;
}

export interface UpdateContextInput {
  personId: string;
  sessionId: string;
  sources: readonly ContextSourceInput[];
  eventType?: string | null;
  timestamp?: Date | null;
  storeSnapshot?: boolean | null;
  clientEventId?: string | null;
}

export interface ContextUpdateResult {
  trace: TraceRow;
  context: JsonObject;
  duplicate: boolean;
}

/** How far ahead of the server's clock a client's timestamp may be: a later one would block the session's next updates. */
const MAX_CLOCK_SKEW_MS = 60_000;

interface StoredResponse {
  traceId: string;
  context: JsonObject;
}

function checkSources(input: UpdateContextInput, maxSources: number): ContextSource[] {
  if (input.sources.length === 0) throw badInput('sources must hold at least one source', 'sources');
  if (input.sources.length > maxSources) throw badInput(`sources must hold at most ${maxSources} sources`, 'sources');
  return input.sources.map((source, i) => {
    requireId(source.source, `sources[${i}].source`);
    if (!isJsonObject(source.data)) throw badInput('data must be a JSON object', `sources[${i}].data`);
    const confidence = source.confidence ?? 1;
    if (!Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
      throw badInput('confidence must be between 0 and 1', `sources[${i}].confidence`);
    }
    return { source: source.source, data: source.data, confidence, observedAt: source.observedAt ?? null };
  });
}

/**
 * Fuses one update into its session: one transaction writes the immutable trace and the session's new state
 * (serialised per session; on SQLite, updates arriving together share a commit), then subscribers are told.
 * A retry with the same clientEventId returns the first result and writes nothing.
 */
export function createContextUpdates({ database, pubsub, config, now }: ServiceDeps) {
  async function updateContext(viewer: Viewer | null, input: UpdateContextInput): Promise<ContextUpdateResult> {
    requireId(input.personId, 'personId');
    requireId(input.sessionId, 'sessionId');
    rejectNulCharacters(input.sources, 'sources');
    requireWriteFor(viewer, input.personId);
    const eventType = requireId(input.eventType ?? 'context_update', 'eventType', 100);
    const sources = checkSources(input, config.limits.maxSourcesPerUpdate);
    const once = input.clientEventId
      ? {
          scope: { scope: `person:${input.personId}`, operation: 'updateContext', key: requireId(input.clientEventId, 'clientEventId') },
          keep: ({ trace, context }: SessionAppend): StoredResponse => ({ traceId: trace.id, context }),
        }
      : null;
    const sessionKey = { personId: input.personId, sessionId: input.sessionId };

    const outcome = await database.sessions.append(sessionKey, once, (session): SessionAppend => {
      const receivedAt = now();
      const timestamp = input.timestamp ?? receivedAt;
      if (timestamp.getTime() > receivedAt.getTime() + MAX_CLOCK_SKEW_MS) {
        throw badInput('timestamp is in the future', 'timestamp', { receivedAt: receivedAt.toISOString() });
      }
      if (session && timestamp < session.lastAt) {
        throw badInput('timestamp is earlier than the session’s last update; history is append-only', 'timestamp', {
          lastAt: session.lastAt.toISOString(),
        });
      }
      const fusion = fuseSources(sources, timestamp, receivedAt);
      const context = applyFusion((session?.context as JsonObject | undefined) ?? {}, fusion);
      const trace: TraceRow = {
        id: randomUUID(),
        ...sessionKey,
        seq: (session?.lastSeq ?? 0) + 1,
        eventType,
        timestamp,
        receivedAt,
        eventData: { sources: input.sources.map(storedSource), fusion: { ...fusion } },
        contextAfter: context,
        snapshotStored: input.storeSnapshot ?? true,
        replayOfId: null,
        replaySource: null,
        replayedBy: null,
      };
      return { trace, context };
    });
    if ('stored' in outcome) return { ...(await firstResult(outcome.stored, input.clientEventId!)), duplicate: true };
    await pubsub.publish('contextUpdated', input.personId, outcome.appended);
    return { ...outcome.appended, duplicate: false };
  }

  /** A retry's answer: the first update's trace, as committed. */
  async function firstResult({ traceId, context }: StoredResponse, key: string) {
    const trace = await findTrace(database.read, traceId);
    if (!trace) throw new AppError('CONFLICT', 'The first result for this updateContext key is no longer available (deleted since)', { key });
    return { trace, context };
  }

  return { updateContext };
}

/** Sources are kept as received, with the defaults made explicit. */
function storedSource(source: ContextSourceInput): JsonValue {
  return {
    source: source.source,
    data: source.data as JsonValue,
    confidence: source.confidence ?? 1,
    observedAt: source.observedAt ? source.observedAt.toISOString() : null,
  };
}
