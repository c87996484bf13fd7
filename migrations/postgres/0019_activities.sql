-- 线下活动: offline activities (lectures in the school hall, parent–child activities, social
-- practice, parents' meetings). Each is a series of format 'offline' with one occurrence, so
-- enrolment, the waitlist, reminders and the calendar are the live lectures' own; what is
-- particular to it is in activities, keyed by that occurrence. 签到/签退 are kept per purpose.
ALTER TABLE live_series ADD COLUMN format TEXT NOT NULL DEFAULT 'online' CHECK (format IN ('online', 'offline'));

CREATE TABLE activities (
    occurrence_id       UUID PRIMARY KEY REFERENCES live_occurrences (id),
    kind                TEXT NOT NULL CHECK (kind IN ('lecture', 'parent_child', 'social_practice', 'parents_meeting', 'other')),
    place               TEXT NOT NULL,
    latitude            DOUBLE PRECISION,
    longitude           DOUBLE PRECISION,
    host_org_id         UUID NOT NULL REFERENCES organizations (id),
    credit_minutes      INTEGER NOT NULL CHECK (credit_minutes BETWEEN 0 AND 1440),
    requires_check_out  BOOLEAN NOT NULL,
    requires_enrolment  BOOLEAN NOT NULL,
    created_by          UUID NOT NULL REFERENCES users (id),
    created_at          BIGINT NOT NULL
);
CREATE INDEX activities_host ON activities (host_org_id);

CREATE TABLE activity_check_ins (
    occurrence_id   UUID NOT NULL REFERENCES live_occurrences (id),
    user_id         UUID NOT NULL REFERENCES users (id),
    purpose         TEXT NOT NULL CHECK (purpose IN ('in', 'out')),
    at              BIGINT NOT NULL,
    -- 'code': the parent scanned the host's code; 'manual': staff checked them in by hand.
    method          TEXT NOT NULL CHECK (method IN ('code', 'manual')),
    by_user         UUID REFERENCES users (id),
    PRIMARY KEY (occurrence_id, user_id, purpose)
);
CREATE INDEX activity_check_ins_user ON activity_check_ins (user_id);
