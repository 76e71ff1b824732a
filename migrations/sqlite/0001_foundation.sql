-- Foundation schema: groups, users, camera devices, login sessions, audit events.
-- SQLite has no boolean type the sqlx Any driver can decode, so flags are INTEGER 0/1 here
-- and BOOLEAN in PostgreSQL; queries read them through CASE so both decode as integers.
-- Times are UTC milliseconds since the Unix epoch (BIGINT) in both dialects.
CREATE TABLE groups (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                    TEXT PRIMARY KEY NOT NULL,
    login_id              TEXT NOT NULL UNIQUE,
    display_name          TEXT NOT NULL,
    role                  TEXT NOT NULL CHECK (role IN ('system_admin', 'group_admin', 'supporter')),
    group_id              TEXT NOT NULL REFERENCES groups(id),
    password_hash         TEXT NOT NULL,
    failed_attempts       BIGINT NOT NULL DEFAULT 0,
    first_failed_at       BIGINT,
    locked_until          BIGINT,
    must_change_password  INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    password_changed_at   BIGINT NOT NULL,
    created_at            BIGINT NOT NULL
);
CREATE INDEX users_group ON users(group_id);

CREATE TABLE devices (
    id                  TEXT PRIMARY KEY NOT NULL,
    group_id            TEXT NOT NULL REFERENCES groups(id),
    name                TEXT NOT NULL,
    credential_hash     TEXT UNIQUE,
    pairing_code_hash   TEXT UNIQUE,
    pairing_expires_at  BIGINT,
    paired_at           BIGINT,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX devices_group ON devices(group_id);

CREATE TABLE login_sessions (
    id                   TEXT PRIMARY KEY NOT NULL,
    token_hash           TEXT NOT NULL UNIQUE,
    csrf_token           TEXT NOT NULL,
    user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at           BIGINT NOT NULL,
    idle_expires_at      BIGINT NOT NULL,
    absolute_expires_at  BIGINT NOT NULL,
    client_ip            TEXT,
    user_agent           TEXT
);
CREATE INDEX login_sessions_user ON login_sessions(user_id);

CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    actor_label  TEXT,
    group_id     TEXT,
    action       TEXT NOT NULL,
    target       TEXT,
    client_ip    TEXT,
    user_agent   TEXT,
    outcome      TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_group_at ON audit_events(group_id, at);
CREATE INDEX audit_events_actor_at ON audit_events(actor_id, at);
