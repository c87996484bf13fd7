-- Live sessions: weekly series of expert livestreams, their occurrences, enrolment with a
-- waitlist, and attendance intervals of viewers.

CREATE TABLE live_series (
    id              BLOB PRIMARY KEY,
    expert_id       BLOB NOT NULL REFERENCES users (id),
    created_by      BLOB NOT NULL REFERENCES users (id),
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    lecturer        TEXT NOT NULL,
    -- RFC 5545 RRULE subset (weekly), expanded from first_start in China time.
    rrule           TEXT NOT NULL,
    -- JSON list of excepted dates (YYYY-MM-DD, China time).
    exceptions      TEXT NOT NULL DEFAULT '[]',
    first_start     BIGINT NOT NULL,
    duration_min    INTEGER NOT NULL,
    capacity        INTEGER NOT NULL,
    -- Audience: members of this organization's subtree; NULL: everyone.
    scope_org_id    BLOB REFERENCES organizations (id),
    -- Share of the live time a viewer must attend to count as attended (0–1).
    threshold       REAL NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE live_occurrences (
    id              BLOB PRIMARY KEY,
    series_id       BLOB NOT NULL REFERENCES live_series (id),
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('scheduled', 'live', 'paused', 'ended', 'cancelled')),
    -- Closed live periods; plus now - live_since while live.
    live_ms         BIGINT NOT NULL DEFAULT 0,
    live_since      BIGINT,
    paused_at       BIGINT,
    went_live_at    BIGINT,
    ended_at        BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (series_id, starts_at)
);
CREATE INDEX live_occurrences_time ON live_occurrences (starts_at);
CREATE INDEX live_occurrences_paused ON live_occurrences (state, paused_at);

-- Whole-series enrolments: new and future occurrences enrol these users too.
CREATE TABLE live_series_enrolments (
    series_id   BLOB NOT NULL REFERENCES live_series (id),
    user_id     BLOB NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (series_id, user_id)
);

CREATE TABLE live_enrolments (
    occurrence_id   BLOB NOT NULL REFERENCES live_occurrences (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    state           TEXT NOT NULL CHECK (state IN ('enrolled', 'waitlisted', 'cancelled')),
    -- Order of the waitlist (and of enrolment): a per-occurrence sequence.
    seq             BIGINT NOT NULL,
    enrolled_by     BLOB NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (occurrence_id, user_id)
);
CREATE INDEX live_enrolments_user ON live_enrolments (user_id, state);

-- One row per viewer connection: [joined_at, left_at or seen_until).
CREATE TABLE live_attendance (
    id              BLOB PRIMARY KEY,
    occurrence_id   BLOB NOT NULL REFERENCES live_occurrences (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    joined_at       BIGINT NOT NULL,
    -- Flushed at least every 10 s while the viewer is connected; a crash loses at most that.
    seen_until      BIGINT NOT NULL,
    left_at         BIGINT
);
CREATE INDEX live_attendance_occurrence ON live_attendance (occurrence_id, user_id);
CREATE INDEX live_attendance_user ON live_attendance (user_id, joined_at);
