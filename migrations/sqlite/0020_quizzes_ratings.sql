-- 课后小测: a lesson's short quiz. The questions (JSON: text, kind single|multiple, options, and
-- the answer key as option indices) never leave the server with their keys, except to the
-- course's editors. Saving a changed quiz raises its version; attempts keep the version they
-- answered.
CREATE TABLE lesson_quizzes (
    lesson_id     BLOB PRIMARY KEY REFERENCES lessons (id) ON DELETE CASCADE,
    questions     TEXT NOT NULL,
    pass_percent  INTEGER NOT NULL CHECK (pass_percent BETWEEN 1 AND 100),
    version       INTEGER NOT NULL,
    updated_by    BLOB REFERENCES users (id),
    updated_at    BIGINT NOT NULL
);

-- Every attempt at a quiz, kept (the best one counts). Erased with the account.
CREATE TABLE quiz_attempts (
    id            BLOB PRIMARY KEY,
    lesson_id     BLOB NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    user_id       BLOB NOT NULL REFERENCES users (id),
    quiz_version  INTEGER NOT NULL,
    answers       TEXT NOT NULL,
    score         INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    passed        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, lesson_id);

-- 评价: one rating (1–5 stars, an optional comment after the word filter) per person and
-- course or live lecture; changing it rewrites the row. Erased with the account.
CREATE TABLE ratings (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id),
    -- course | occurrence
    target_kind   TEXT NOT NULL,
    target_id     BLOB NOT NULL,
    stars         INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (user_id, target_kind, target_id)
);
CREATE INDEX ratings_target ON ratings (target_kind, target_id, updated_at);
