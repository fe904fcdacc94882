import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

describe('graphql/schema.graphql', () => {
  it('is the printed schema (run `npm run generate` after changing the schema)', () => {
    const committed = readFileSync(new URL('../../graphql/schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });
});
