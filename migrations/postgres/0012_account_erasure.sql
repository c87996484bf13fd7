-- Trust: when a user's sessions were last ended (password changed or reset, account deleted):
-- access tokens issued before it are void on every node. And when a deleted account's traces
-- elsewhere (seats, memberships, chat text) were erased; NULL on a deleted account means the
-- erasure is still to be finished (at the next start).
ALTER TABLE users ADD COLUMN sessions_revoked_at BIGINT;
ALTER TABLE users ADD COLUMN erased_at BIGINT;
CREATE INDEX users_sessions_revoked ON users (sessions_revoked_at);
