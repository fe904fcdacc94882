// Tests use the same seeded PRNG as the demo data.
export { seededRandom } from '../../src/domain/random.js';
