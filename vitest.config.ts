import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { postgresAvailability } from './test/support/postgres-availability.js';

// The whole suite runs once per store: SQLite always; PostgreSQL whenever it is reachable (CI always has it).
export default defineConfig(async () => {
  const postgres = await postgresAvailability();
  if (!postgres.available && process.env.REQUIRE_POSTGRES) throw new Error(`PostgreSQL is required: ${postgres.reason}`);
  if (!postgres.available) console.log(`PostgreSQL suite skipped: ${postgres.reason}`);
  const project = (name: string, env: Record<string, string>, exclude: string[] = []): TestProjectInlineConfiguration => ({
    extends: true,
    test: { name, env, testTimeout: 30_000, hookTimeout: 60_000, include: ['test/**/*.test.ts'], exclude },
  });
  return {
    // Node resolves `graphql` to its CommonJS entry for the packages it loads; Vite would pick the .mjs one for
    // ours, and two copies of graphql refuse to work together.
    resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
    test: {
      projects: [
        project('sqlite', { TEST_DATABASE: 'sqlite' }),
        ...(postgres.available ? [project(
              'postgresql',
              { TEST_DATABASE: 'postgresql', TEST_DATABASE_URL: postgres.url },
              // Store-independent: pure logic, and the migration test that covers both providers itself.
              ['test/unit/**', 'test/store/**', 'test/e2e/**', 'test/bench/**'],
            )] : []),
      ],
    },
  };
});
