-- Session recordings: one encrypted object per camera per session, its wrapped data key, and
-- who took part (only they may reach it). Times are UTC milliseconds.
CREATE TABLE recordings (
    id                 TEXT PRIMARY KEY NOT NULL,
    group_id           TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    device_name        TEXT NOT NULL,
    started_at         BIGINT NOT NULL,
    ended_at           BIGINT,
    expires_at         BIGINT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('recording', 'complete', 'failed')),
    container          TEXT NOT NULL,
    object_key         TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    wrapped_key        TEXT NOT NULL,
    plaintext_bytes    BIGINT NOT NULL DEFAULT 0,
    stored_bytes       BIGINT NOT NULL DEFAULT 0,
    sha256             TEXT,
    video_frames       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX recordings_expires ON recordings(expires_at);

CREATE TABLE recording_participants (
    recording_id  TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    PRIMARY KEY (recording_id, user_id)
);
CREATE INDEX recording_participants_user ON recording_participants(user_id);
