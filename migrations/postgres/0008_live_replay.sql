-- Live sessions II: stream keys, recordings (live HLS pieces in the object store and the replay
-- made from them) and reminders sent once.

-- SHA-256 (base64url, as for refresh tokens) of the occurrence's stream key, a WHIP Bearer token for OBS; NULL: none.
ALTER TABLE live_occurrences ADD COLUMN stream_key_hash TEXT;
CREATE UNIQUE INDEX live_occurrences_stream_key ON live_occurrences (stream_key_hash);
-- The replay lesson, once the server attached the recording to the series' replay course.
ALTER TABLE live_occurrences ADD COLUMN replay_course_id UUID;
ALTER TABLE live_occurrences ADD COLUMN replay_lesson_id UUID;
ALTER TABLE live_occurrences ADD COLUMN replay_asset_id UUID;

CREATE TABLE live_recordings (
    occurrence_id   UUID PRIMARY KEY REFERENCES live_occurrences (id),
    -- recording: pieces arrive; queued: the replay job is queued (claimed once);
    -- processing: the asset is transcoding; ready: the replay is published; empty: nothing
    -- was recorded; failed: see error.
    state           TEXT NOT NULL CHECK (state IN ('recording', 'queued', 'processing', 'ready', 'empty', 'failed')),
    -- ffmpeg runs so far: every run (a new publisher, a restart, a crashed ffmpeg) has its own
    -- initialization segment.
    runs            INTEGER NOT NULL DEFAULT 0,
    asset_id        UUID,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX live_recordings_state ON live_recordings (state);

-- Pieces of a recording in the object store: live/{occurrence}/{run}/init.mp4 and
-- live/{occurrence}/{run}/{seq}.m4s. They are the live HLS playlist while live.
CREATE TABLE live_segments (
    occurrence_id   UUID NOT NULL REFERENCES live_occurrences (id),
    seq             INTEGER NOT NULL,
    run             INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    -- Wall-clock time the piece starts at (places chat and chapters on the replay).
    started_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (occurrence_id, seq)
);

-- Reminders and "replay ready" notices: one row per (kind, occurrence, user, offset), inserted
-- by whichever node claims it first; sent_at is set once the notifier accepted it. A claim
-- older than a few minutes without sent_at is retried with the same id (the Idempotency-Key).
CREATE TABLE live_notifications (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('reminder', 'replay_ready')),
    occurrence_id   UUID NOT NULL REFERENCES live_occurrences (id),
    user_id         UUID NOT NULL REFERENCES users (id),
    offset_minutes  INTEGER NOT NULL,
    claimed_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    attempts        INTEGER NOT NULL DEFAULT 1,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (kind, occurrence_id, user_id, offset_minutes)
);
CREATE INDEX live_notifications_pending ON live_notifications (sent_at, claimed_at);
