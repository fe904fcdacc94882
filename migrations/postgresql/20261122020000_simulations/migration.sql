-- CreateTable
CREATE TABLE "simulations" (
    "node_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "keyframe_interval" INTEGER NOT NULL,
    "total_ticks" INTEGER NOT NULL,
    "agent_count" INTEGER NOT NULL,
    "agents" JSONB NOT NULL,
    "influence" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "simulations_pkey" PRIMARY KEY ("node_id")
);

-- CreateTable
CREATE TABLE "simulation_ticks" (
    "node_id" TEXT NOT NULL,
    "tick" INTEGER NOT NULL,
    "agents" JSONB NOT NULL,
    "metrics" JSONB NOT NULL,
    "zone_populations" JSONB NOT NULL,
    "digest" TEXT NOT NULL,

    CONSTRAINT "simulation_ticks_pkey" PRIMARY KEY ("node_id","tick")
);

-- CreateTable
CREATE TABLE "simulation_transitions" (
    "node_id" TEXT NOT NULL,
    "tick" INTEGER NOT NULL,
    "agent_id" TEXT NOT NULL,
    "from_zone" TEXT NOT NULL,
    "to_zone" TEXT NOT NULL,
    "reason" TEXT,

    CONSTRAINT "simulation_transitions_pkey" PRIMARY KEY ("node_id","tick","agent_id")
);

-- CreateTable
CREATE TABLE "simulation_events" (
    "node_id" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "tick" INTEGER NOT NULL,
    "end_tick" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "name" TEXT,
    "intensity" DOUBLE PRECISION NOT NULL,
    "affected_zone" TEXT,

    CONSTRAINT "simulation_events_pkey" PRIMARY KEY ("node_id","event_id")
);

-- CreateIndex
CREATE INDEX "simulation_transitions_node_id_agent_id_tick_idx" ON "simulation_transitions"("node_id", "agent_id", "tick");

-- CreateIndex
CREATE INDEX "simulation_events_node_id_tick_idx" ON "simulation_events"("node_id", "tick");
