-- CreateTable
CREATE TABLE "simulation_key_moments" (
    "node_id" TEXT NOT NULL,
    "agent_id" TEXT NOT NULL,
    "tick" INTEGER NOT NULL,
    "from_stance" DOUBLE PRECISION NOT NULL,
    "to_stance" DOUBLE PRECISION NOT NULL,
    "event_name" TEXT,

    CONSTRAINT "simulation_key_moments_pkey" PRIMARY KEY ("node_id","agent_id","tick")
);
