-- Single sign-on with OpenID Connect, configured per group. The client secret is encrypted
-- with its own data key, which is wrapped by the master key like a recording's (bound to the
-- group ID, re-wrapped by `admin rewrap-keys`). `user_claim` names the ID-token claim matched
-- against login IDs; `provision` creates unknown users of the group as supporters;
-- `password_login_disabled` refuses password logins of the group's members (system
-- administrators keep theirs, as the way back in).
CREATE TABLE group_sso (
    id                      TEXT PRIMARY KEY NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    issuer                  TEXT NOT NULL,
    client_id               TEXT NOT NULL,
    secret_key_id           TEXT NOT NULL,
    secret_wrapped_key      TEXT NOT NULL,
    client_secret           TEXT NOT NULL,
    user_claim              TEXT NOT NULL CHECK (user_claim IN ('email', 'preferred_username', 'sub')),
    provision               BOOLEAN NOT NULL DEFAULT FALSE,
    password_login_disabled BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at              BIGINT NOT NULL
);

-- The identity at the provider a user signed in with (`issuer` + space + `sub`): once linked,
-- the user is found by it, whatever the matched claim says later.
ALTER TABLE users ADD COLUMN sso_subject TEXT;
CREATE UNIQUE INDEX users_sso_subject ON users(sso_subject);

-- A sign-in on its way through the provider: the browser holds the token (hashed here) in a
-- cookie; state, nonce and the PKCE verifier are checked when it comes back. Single use.
CREATE TABLE sso_logins (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    group_id      TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    state         TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_uri  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
