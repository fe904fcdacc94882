-- Large JSON values (a tick's agents, a run's roster, contexts, event data) are compressed when stored out of line.
-- lz4 compresses several times faster than PostgreSQL's default, pglz, to a similar size: recording a tick of
-- 1,000 agents spends most of its database time there. Servers built without lz4 (or before PostgreSQL 14)
-- keep pglz. Only values written from here on are affected.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE "idempotency_keys" ALTER COLUMN "response" SET COMPRESSION lz4;
    ALTER TABLE "project_data" ALTER COLUMN "data" SET COMPRESSION lz4;
    ALTER TABLE "project_snapshots" ALTER COLUMN "state" SET COMPRESSION lz4;
    ALTER TABLE "replay_sessions" ALTER COLUMN "agent_ids" SET COMPRESSION lz4;
    ALTER TABLE "sessions" ALTER COLUMN "context" SET COMPRESSION lz4;
    ALTER TABLE "simulation_ticks" ALTER COLUMN "agents" SET COMPRESSION lz4,
      ALTER COLUMN "metrics" SET COMPRESSION lz4,
      ALTER COLUMN "zone_populations" SET COMPRESSION lz4;
    ALTER TABLE "simulations" ALTER COLUMN "agents" SET COMPRESSION lz4, ALTER COLUMN "influence" SET COMPRESSION lz4;
    ALTER TABLE "stream_events" ALTER COLUMN "data" SET COMPRESSION lz4;
    ALTER TABLE "traces" ALTER COLUMN "context_after" SET COMPRESSION lz4, ALTER COLUMN "event_data" SET COMPRESSION lz4;
  END IF;
END $$;
