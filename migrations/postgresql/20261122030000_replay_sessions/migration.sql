-- CreateTable
CREATE TABLE "replay_sessions" (
    "id" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "layout_profile" TEXT NOT NULL,
    "max_agents" INTEGER NOT NULL,
    "sampling_strategy" TEXT NOT NULL,
    "agent_ids" JSONB NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,
    "last_used_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "replay_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "replay_sessions_last_used_at_idx" ON "replay_sessions"("last_used_at");
