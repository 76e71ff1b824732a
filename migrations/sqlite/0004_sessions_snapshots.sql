-- Sessions, snapshots and thumbnails, per-group recording, durable deletions.
-- A live session (one supporter console with its cameras) has an ID that groups its
-- recordings and snapshots; a recording remembers when its last bytes were written (the end
-- of a recording cut short by a crash).
ALTER TABLE recordings ADD COLUMN session_id TEXT;
ALTER TABLE recordings ADD COLUMN last_written_at BIGINT;
CREATE INDEX recordings_session ON recordings(session_id);

-- Recording can be switched off per group (on by default).
ALTER TABLE groups ADD COLUMN recording_enabled INTEGER NOT NULL DEFAULT 1
    CHECK (recording_enabled IN (0, 1));

-- Still images: snapshots a supporter takes of a live feed, and one thumbnail per recording.
-- Encrypted like recordings (own data key, wrapped by the master key); reachable only by the
-- participants listed for them.
CREATE TABLE snapshots (
    id               TEXT PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('snapshot', 'thumbnail')),
    group_id         TEXT NOT NULL,
    session_id       TEXT,
    recording_id     TEXT,
    device_id        TEXT NOT NULL,
    device_name      TEXT NOT NULL,
    taken_at         BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    taken_by         TEXT,
    width            BIGINT NOT NULL,
    height           BIGINT NOT NULL,
    object_key       TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    wrapped_key      TEXT NOT NULL,
    plaintext_bytes  BIGINT NOT NULL,
    stored_bytes     BIGINT NOT NULL,
    sha256           TEXT NOT NULL
);
CREATE INDEX snapshots_expires ON snapshots(expires_at);
CREATE INDEX snapshots_recording ON snapshots(recording_id);
CREATE INDEX snapshots_session ON snapshots(session_id);

CREATE TABLE snapshot_participants (
    snapshot_id  TEXT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, user_id)
);
CREATE INDEX snapshot_participants_user ON snapshot_participants(user_id);

-- Objects whose key is already shredded but whose bytes the store has not confirmed deleted
-- (it was unreachable): the retention job retries until it does.
CREATE TABLE pending_object_deletions (
    object_key  TEXT PRIMARY KEY NOT NULL,
    since       BIGINT NOT NULL
);

-- Deletion records cover snapshots too.
ALTER TABLE deletion_records ADD COLUMN object_kind TEXT NOT NULL DEFAULT 'recording';
