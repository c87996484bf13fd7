-- Trust: staff add people to an organization only with their consent. A curator invites a
-- phone number; the user joins by accepting in the app (or with a join code). An invitation
-- is made whether or not the number is registered, so it reveals nothing; it ends when
-- accepted, declined or expired.
CREATE TABLE org_invitations (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES organizations (id),
    -- Normalised (+86…): matched against the phone of the user who signs in.
    phone       TEXT NOT NULL,
    invited_by  BLOB NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    UNIQUE (org_id, phone)
);
CREATE INDEX org_invitations_phone ON org_invitations (phone, expires_at);

-- How a membership came about: 'join_code' or 'invitation' (the user's own act) or 'created'
-- (staff or the CLI created the account in that organization). Staff may act for a user (reset
-- a password) only through such a membership. Rows from before this migration are 'unknown':
-- some were added by phone without consent.
ALTER TABLE memberships ADD COLUMN via TEXT NOT NULL DEFAULT 'unknown';
