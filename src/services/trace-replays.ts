import { randomUUID } from 'node:crypto';
import { canReadPerson, requireViewer } from '../auth/access.js';
import type { Viewer } from '../auth/viewer.js';
import { diffContexts, type ContextDifference } from '../domain/context-diff.js';
import { applyFusion, fuseSources, type ContextSource, type Fusion } from '../domain/fusion.js';
import type { JsonObject } from '../domain/json.js';
import { AppError, notFound } from '../errors.js';
import { findTrace, findTraceBefore, insertTrace, type TraceRow } from '../store/traces.js';
import type { Tx } from '../store/database.js';
import type { ServiceDeps } from './deps.js';
import { writeOnce } from './idempotent-writes.js';
import { requireId, requirePositive } from './input-checks.js';

export interface ReplayTraceInput {
  traceId: string;
  includeContext: boolean;
  timeScale: number;
  /** Where the replay was asked from, kept on the lineage row. */
  replaySource: string;
  requestId?: string | null;
}

export interface TraceReplay {
  trace: TraceRow;
  /** The lineage row this replay wrote; null when the trace cannot be replayed (it is itself a replay). */
  replay: TraceRow | null;
  metadata: { requestedAt: Date; includeContext: boolean; timeScale: number; originalEventType: string; replayAvailable: boolean };
  result: {
    contextState: JsonObject;
    fusionTimestamp: Date;
    isReplay: true;
    originalTimestamp: Date;
    matchesOriginal: boolean;
    diff: ContextDifference[];
  } | null;
}

interface StoredSource {
  source: string;
  data: JsonObject;
  confidence: number;
  observedAt: string | null;
}

interface StoredEventData {
  sources: StoredSource[];
  fusion: Fusion | null;
}

const toSources = (stored: StoredSource[]): ContextSource[] =>
  stored.map((s) => ({ ...s, observedAt: s.observedAt ? new Date(s.observedAt) : null }));

/**
 * Re-runs fusion of a stored update on the state before it and compares the outcome with what was stored.
 * The original is never touched: the replay is recorded as a new trace pointing at it (replayOf, replaySource,
 * replayedBy), which never enters the session's history.
 */
export function createTraceReplays({ database, now }: ServiceDeps) {
  const { db, read } = database;

  async function recordReplay(tx: Tx, viewer: Viewer, original: TraceRow, input: ReplayTraceInput, requestedAt: Date) {
    const { sources } = original.eventData as unknown as StoredEventData;
    let fusion: Fusion | null = null;
    let contextAfter: JsonObject | null = null;
    if (input.includeContext) {
      const before = await findTraceBefore(tx, original.personId, original.sessionId, original.seq ?? 0);
      fusion = fuseSources(toSources(sources), original.timestamp, requestedAt);
      contextAfter = applyFusion((before?.contextAfter as JsonObject | undefined) ?? {}, fusion);
    }
    return insertTrace(tx, {
      id: randomUUID(),
      personId: original.personId,
      sessionId: original.sessionId,
      eventType: original.eventType,
      timestamp: requestedAt,
      receivedAt: requestedAt,
      eventData: { sources, fusion } as object,
      contextAfter: contextAfter ?? undefined,
      snapshotStored: input.includeContext,
      replayOfId: original.id,
      replaySource: input.replaySource,
      replayedBy: viewer.personId,
    });
  }

  function describe(original: TraceRow, replay: TraceRow | null, input: ReplayTraceInput, requestedAt: Date): TraceReplay {
    const metadata = {
      requestedAt,
      includeContext: input.includeContext,
      timeScale: input.timeScale,
      originalEventType: original.eventType,
      replayAvailable: replay !== null,
    };
    const fusion = (replay?.eventData as unknown as StoredEventData | undefined)?.fusion;
    if (!replay || !fusion || !input.includeContext) return { trace: original, replay, metadata, result: null };
    const contextState = replay.contextAfter as JsonObject;
    const diff = diffContexts(original.contextAfter as JsonObject, contextState);
    return {
      trace: original,
      replay,
      metadata,
      result: {
        contextState,
        fusionTimestamp: new Date(fusion.fusedAt),
        isReplay: true,
        originalTimestamp: original.timestamp,
        matchesOriginal: diff.length === 0,
        diff,
      },
    };
  }

  async function replayTrace(viewer: Viewer | null, input: ReplayTraceInput): Promise<TraceReplay> {
    const v = requireViewer(viewer);
    requirePositive(input.timeScale, 'timeScale');
    requireId(input.replaySource, 'replaySource', 100);
    const original = await findTrace(read, input.traceId);
    if (!original || !canReadPerson(v, original.personId)) throw notFound(`Trace ${input.traceId}`);
    const requestedAt = now();
    if (original.seq === null) return describe(original, null, input, requestedAt);

    const key = input.requestId
      ? { scope: `viewer:${v.personId}`, operation: 'replayTrace', key: requireId(input.requestId, 'requestId') }
      : null;
    const { result } = await writeOnce(db, key, now, {
      write: async (tx) => ({ replay: await recordReplay(tx, v, original, input, requestedAt), input, requestedAt }),
      toStored: (r) => ({ replayId: r.replay.id, input: r.input, requestedAt: r.requestedAt.toISOString() }),
      fromStored: async (stored, tx) => {
        const replay = await findTrace(tx, stored.replayId);
        return replay ? { replay, input: stored.input, requestedAt: new Date(stored.requestedAt) } : null;
      },
    });
    // A requestId names one replay request: reused for another trace it cannot answer with the first result
    // without mixing two traces' outcomes.
    if (result.replay.replayOfId !== original.id) {
      throw new AppError('CONFLICT', `requestId ${input.requestId} was already used to replay another trace`, { field: 'requestId' });
    }
    return describe(original, result.replay, result.input, result.requestedAt);
  }

  return { replayTrace };
}
