-- Evidence of every deleted recording (B9): what was deleted, its integrity hash and size, why
-- (the user, or the retention period), when and by whom. Kept after the recording and its key
-- are gone.
CREATE TABLE deletion_records (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recording_id     TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    device_name      TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    sha256           TEXT,
    plaintext_bytes  BIGINT NOT NULL,
    reason           TEXT NOT NULL CHECK (reason IN ('user', 'retention')),
    deleted_at       BIGINT NOT NULL,
    actor_kind       TEXT NOT NULL,
    actor_id         TEXT,
    actor_label      TEXT
);
CREATE INDEX deletion_records_group ON deletion_records(group_id, deleted_at);
