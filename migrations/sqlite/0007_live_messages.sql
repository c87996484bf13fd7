-- Questions and chat of live occurrences, and one vote per user and question.
CREATE TABLE live_messages (
    id              BLOB PRIMARY KEY,
    occurrence_id   BLOB NOT NULL REFERENCES live_occurrences (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    kind            TEXT NOT NULL CHECK (kind IN ('chat', 'question')),
    text            TEXT NOT NULL,
    votes           INTEGER NOT NULL DEFAULT 0,
    answered        INTEGER NOT NULL DEFAULT 0,
    -- When the expert marked it answered (a chapter mark of the replay).
    answered_at     BIGINT,
    hidden          INTEGER NOT NULL DEFAULT 0,
    hidden_by       BLOB REFERENCES users (id),
    created_at      BIGINT NOT NULL
);
CREATE INDEX live_messages_occurrence ON live_messages (occurrence_id, kind, created_at);
CREATE INDEX live_messages_user ON live_messages (user_id, created_at);

CREATE TABLE live_question_votes (
    question_id     BLOB NOT NULL REFERENCES live_messages (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
