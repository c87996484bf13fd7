-- Live series: age stages, and cancellation notices.
-- The child age stages a live series is for (JSON array of codes, as on courses); its replay
-- course carries them. '[]' (series made before): every stage.
ALTER TABLE live_series ADD COLUMN age_stages TEXT NOT NULL DEFAULT '[]';

-- A cancelled lecture is told to those with a seat or a waitlist place. SQLite cannot change a
-- CHECK constraint, so the table is rebuilt with the same rows.
CREATE TABLE live_notifications_new (
    id              BLOB PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('reminder', 'replay_ready', 'cancelled')),
    occurrence_id   BLOB NOT NULL REFERENCES live_occurrences (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    offset_minutes  INTEGER NOT NULL,
    claimed_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    attempts        INTEGER NOT NULL DEFAULT 1,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (kind, occurrence_id, user_id, offset_minutes)
);
INSERT INTO live_notifications_new SELECT id, kind, occurrence_id, user_id, offset_minutes, claimed_at, sent_at,
    attempts, last_error, created_at FROM live_notifications;
DROP TABLE live_notifications;
ALTER TABLE live_notifications_new RENAME TO live_notifications;
CREATE INDEX live_notifications_pending ON live_notifications (sent_at, claimed_at);
