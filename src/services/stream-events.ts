import type { DataItem } from '../domain/project-state.js';
import { formatSequence, parseSequence, type Sequence } from '../domain/sequences.js';
import { badInput } from '../errors.js';
import type { ProjectData } from '../generated/prisma/sqlite/client.js';
import type { StreamEventRow } from '../store/project-streams.js';

/** A stream event as the API shows it. */
export interface StreamEvent {
  sequence: string;
  projectId: string;
  eventType: string;
  data: unknown;
  timestamp: Date;
}

export const DATA_PUBLISHED = 'data_published';
export const AGENT_REGISTERED = 'agent_registered';

export const sequenceOf = (row: { ms: bigint | number; n: number }): Sequence => ({ ms: Number(row.ms), n: row.n });

export const toStreamEvent = (row: StreamEventRow): StreamEvent => ({
  sequence: formatSequence(sequenceOf(row)),
  projectId: row.projectId,
  eventType: row.eventType,
  data: row.data,
  timestamp: row.timestamp,
});

/** The payload of a data_published event. */
export interface PublishedData {
  dataKey: string;
  data: unknown;
  description: string | null;
}

/** The value a data_published event set: a stored row, or one about to be appended. */
export const dataItemFromEvent = (row: { ms: bigint | number; n: number; data: unknown; timestamp: Date }): DataItem => {
  const published = row.data as PublishedData;
  return {
    dataKey: published.dataKey,
    data: published.data as DataItem['data'],
    description: published.description ?? null,
    sequence: formatSequence(sequenceOf(row)),
    updatedAt: row.timestamp.toISOString(),
  };
};

/** A key's latest value as kept in project_data. */
export const dataItemFromLatest = (row: ProjectData): DataItem => ({
  dataKey: row.dataKey,
  data: row.data as DataItem['data'],
  description: row.description,
  sequence: formatSequence(sequenceOf(row)),
  updatedAt: row.updatedAt.toISOString(),
});

/** A sequence argument, or BAD_USER_INPUT naming the field. */
export function requireSequence(text: string, field: string): Sequence {
  const sequence = parseSequence(text);
  if (!sequence) throw badInput(`${field} must be a sequence like "1704067200000-0" (or "0")`, field);
  return sequence;
}
