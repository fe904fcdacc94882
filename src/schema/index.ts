import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './traces.js';
import './sessions.js';
import './context-updates.js';
import './trace-replays.js';
import './session-playback.js';
import './projects.js';
import './layouts.js';
import './simulations.js';
import './replay-sessions.js';

/** The whole schema, built once from the domain files above. */
export const schema = lexicographicSortSchema(builder.toSchema());
