-- CreateTable
CREATE TABLE "traces" (
    "id" TEXT NOT NULL,
    "person_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "seq" INTEGER,
    "event_type" TEXT NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL,
    "event_data" JSONB NOT NULL,
    "context_after" JSONB,
    "snapshot_stored" BOOLEAN NOT NULL,
    "replay_of_id" TEXT,
    "replay_source" TEXT,
    "replayed_by" TEXT,

    CONSTRAINT "traces_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "person_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "trace_count" INTEGER NOT NULL,
    "last_seq" INTEGER NOT NULL,
    "first_at" TIMESTAMP(3) NOT NULL,
    "last_at" TIMESTAMP(3) NOT NULL,
    "context" JSONB NOT NULL,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("person_id","session_id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "scope" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "response" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","operation","key")
);

-- CreateIndex
CREATE INDEX "traces_person_id_session_id_timestamp_idx" ON "traces"("person_id", "session_id", "timestamp");

-- CreateIndex
CREATE INDEX "traces_person_id_timestamp_id_idx" ON "traces"("person_id", "timestamp", "id");

-- CreateIndex
CREATE INDEX "traces_timestamp_id_idx" ON "traces"("timestamp", "id");

-- CreateIndex
CREATE INDEX "traces_event_type_timestamp_idx" ON "traces"("event_type", "timestamp");

-- CreateIndex
CREATE INDEX "traces_replay_of_id_idx" ON "traces"("replay_of_id");

-- CreateIndex
CREATE UNIQUE INDEX "traces_person_id_session_id_seq_key" ON "traces"("person_id", "session_id", "seq");

-- CreateIndex
CREATE INDEX "sessions_person_id_last_at_session_id_idx" ON "sessions"("person_id", "last_at", "session_id");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");
