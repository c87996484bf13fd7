-- Accounts, the organization tree, memberships, refresh tokens and rate-limit counters.

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY,
    parent_id   BLOB REFERENCES organizations (id),
    kind        TEXT NOT NULL CHECK (kind IN ('province', 'city', 'county', 'school', 'class')),
    name        TEXT NOT NULL,
    -- Materialised path '/root-id/…/own-id/': a subtree is `path LIKE '<ancestor path>%'`.
    path        TEXT NOT NULL UNIQUE,
    join_code   TEXT UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX organizations_parent ON organizations (parent_id);

CREATE TABLE users (
    id                      BLOB PRIMARY KEY,
    -- E.164 (+86…); NULL once the account is deleted.
    phone                   TEXT UNIQUE,
    password_hash           TEXT,
    display_name            TEXT NOT NULL,
    role                    TEXT NOT NULL CHECK (role IN ('parent', 'expert', 'curator', 'admin')),
    must_change_password    INTEGER NOT NULL DEFAULT 0,
    privacy_notice_version  TEXT,
    privacy_consent_at      BIGINT,
    created_at              BIGINT NOT NULL,
    deleted_at              BIGINT
);

CREATE TABLE memberships (
    user_id     BLOB NOT NULL REFERENCES users (id),
    org_id      BLOB NOT NULL REFERENCES organizations (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_org ON memberships (org_id, user_id);

-- Only a SHA-256 of each refresh token is kept. A token is used once; presenting a used or
-- revoked one revokes its whole family (every token descended from the same login).
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id),
    family_id   BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Fixed-window counters (login attempts per phone and per address), shared by every node.
CREATE TABLE rate_limits (
    bucket        TEXT PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    hits          INTEGER NOT NULL
);
