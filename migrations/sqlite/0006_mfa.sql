-- Multi-factor authentication (TOTP, RFC 6238). The secret is a 256-bit key wrapped by the
-- master key like a recording's data key (bound to the user's ID); a secret being enrolled
-- waits in the pending columns until the user proves it with a code. The last accepted time
-- step refuses a replayed code.
ALTER TABLE users ADD COLUMN totp_key_id TEXT;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
ALTER TABLE users ADD COLUMN totp_pending_key_id TEXT;
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;

-- A group can require MFA of all its members (they enrol at their next login).
ALTER TABLE groups ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 0
    CHECK (mfa_required IN (0, 1));

-- One-time recovery codes, stored hashed; a used one keeps its row with the time.
CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A login whose password was right and that waits for the second factor (or for enrolment):
-- its own short-lived cookie token (hashed) and CSRF token; no session exists yet.
CREATE TABLE mfa_challenges (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    csrf_token  TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify', 'enroll')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX mfa_challenges_user ON mfa_challenges(user_id);
