-- CreateTable
CREATE TABLE "simulation_key_moments" (
    "node_id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "tick" INTEGER NOT NULL,
    "from_stance" REAL NOT NULL,
    "to_stance" REAL NOT NULL,
    "event_name" TEXT,

    PRIMARY KEY ("node_id", "agent_id", "tick")
);
