-- CreateTable
CREATE TABLE "replay_sessions" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "node_id" TEXT NOT NULL,
    "layout_profile" TEXT NOT NULL,
    "max_agents" INTEGER NOT NULL,
    "sampling_strategy" TEXT NOT NULL,
    "agent_ids" JSONB NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" DATETIME NOT NULL,
    "last_used_at" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "replay_sessions_last_used_at_idx" ON "replay_sessions"("last_used_at");
