// Prints the Pothos schema's SDL to graphql/schema.graphql (committed; a test fails when it is stale).
import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from '../src/schema/index.js';

writeFileSync(new URL('../graphql/schema.graphql', import.meta.url), `${printSchema(schema)}\n`);
