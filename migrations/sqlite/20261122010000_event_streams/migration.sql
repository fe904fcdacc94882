-- CreateTable
CREATE TABLE "projects" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "event_count" INTEGER NOT NULL,
    "last_ms" BIGINT NOT NULL,
    "last_n" INTEGER NOT NULL,
    "since_snapshot" INTEGER NOT NULL,
    "created_at" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "stream_events" (
    "project_id" TEXT NOT NULL,
    "ms" BIGINT NOT NULL,
    "n" INTEGER NOT NULL,
    "event_type" TEXT NOT NULL,
    "data_key" TEXT,
    "data" JSONB NOT NULL,
    "timestamp" DATETIME NOT NULL,

    PRIMARY KEY ("project_id", "ms", "n")
);

-- CreateTable
CREATE TABLE "project_data" (
    "project_id" TEXT NOT NULL,
    "data_key" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "description" TEXT,
    "ms" BIGINT NOT NULL,
    "n" INTEGER NOT NULL,
    "updated_at" DATETIME NOT NULL,

    PRIMARY KEY ("project_id", "data_key")
);

-- CreateTable
CREATE TABLE "project_snapshots" (
    "project_id" TEXT NOT NULL,
    "ms" BIGINT NOT NULL,
    "n" INTEGER NOT NULL,
    "state" JSONB NOT NULL,

    PRIMARY KEY ("project_id", "ms", "n")
);

-- CreateIndex
CREATE INDEX "stream_events_project_id_data_key_idx" ON "stream_events"("project_id", "data_key");

-- CreateIndex
CREATE INDEX "stream_events_project_id_timestamp_idx" ON "stream_events"("project_id", "timestamp");
