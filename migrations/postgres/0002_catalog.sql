-- Catalog: topics, courses with ordered lessons, review history, curated lists and the search
-- index. The index is a table written in the same transaction as the course, so every node sees
-- it consistent with the data, including after a restart.

CREATE TABLE topics (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    created_at  BIGINT NOT NULL
);

INSERT INTO topics (name, position, created_at) VALUES
    ('亲子沟通', 1, 0), ('心理健康', 2, 0), ('安全教育', 3, 0), ('劳动教育', 4, 0),
    ('学习习惯', 5, 0), ('家风家教', 6, 0), ('身体健康', 7, 0), ('品德教育', 8, 0),
    ('科学养育', 9, 0), ('家校共育', 10, 0), ('网络素养', 11, 0), ('生命教育', 12, 0);

CREATE TABLE courses (
    id                UUID PRIMARY KEY,
    -- Key of the yearly import manifest; re-importing updates the same course.
    external_id       TEXT UNIQUE,
    title             TEXT NOT NULL,
    summary           TEXT NOT NULL,
    lecturer_user_id  UUID REFERENCES users (id),
    lecturer_name     TEXT NOT NULL,
    lecturer_title    TEXT NOT NULL,
    language          TEXT NOT NULL,
    year              INTEGER NOT NULL,
    -- JSON arrays, for display; filtering uses course_age_stages and course_topics.
    age_stages        TEXT NOT NULL,
    topics            TEXT NOT NULL,
    tags              TEXT NOT NULL,
    cover_key         TEXT,
    status            TEXT NOT NULL CHECK (status IN ('draft', 'in_review', 'published', 'archived')),
    author_id         UUID REFERENCES users (id),
    owner_org_id      UUID NOT NULL REFERENCES organizations (id),
    visibility        TEXT NOT NULL CHECK (visibility IN ('public', 'scoped')),
    scope_org_id      UUID NOT NULL REFERENCES organizations (id),
    -- Copy of the scope organization's path: "visible to a member of org X" is
    -- `X.path LIKE scope_path || '%'`.
    scope_path        TEXT NOT NULL,
    owner_path        TEXT NOT NULL,
    -- Kept in step with `lessons` by every write, so listings need no per-row aggregate.
    lesson_count      INTEGER NOT NULL DEFAULT 0,
    total_duration_s  BIGINT NOT NULL DEFAULT 0,
    version           INTEGER NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    published_at      BIGINT
);
-- Browsing walks published courses newest first and stops after a page.
CREATE INDEX courses_status ON courses (status, id);
CREATE INDEX courses_year ON courses (year);

-- Normalised text of every searchable field, for exact phrase checks after the term lookup
-- (kept out of `courses` so that listing rows stay small).
CREATE TABLE course_texts (
    course_id  UUID PRIMARY KEY REFERENCES courses (id) ON DELETE CASCADE,
    text       TEXT NOT NULL
);

CREATE TABLE course_age_stages (
    course_id  UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    age_stage  TEXT NOT NULL,
    PRIMARY KEY (course_id, age_stage)
);
CREATE INDEX course_age_stages_stage ON course_age_stages (age_stage, course_id);

CREATE TABLE course_topics (
    course_id  UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    topic      TEXT NOT NULL REFERENCES topics (name),
    PRIMARY KEY (course_id, topic)
);
CREATE INDEX course_topics_topic ON course_topics (topic, course_id);

CREATE TABLE lessons (
    id          UUID PRIMARY KEY,
    course_id   UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    -- A media asset id, opaque to the catalog.
    asset_id    TEXT,
    duration_s  INTEGER NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX lessons_course ON lessons (course_id, position);

CREATE TABLE review_events (
    id           UUID PRIMARY KEY,
    course_id    UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    -- NULL for the bulk importer.
    actor_id     UUID REFERENCES users (id),
    comment      TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX review_events_course ON review_events (course_id, created_at);

CREATE TABLE course_lists (
    id               UUID PRIMARY KEY,
    title            TEXT NOT NULL,
    year             INTEGER NOT NULL,
    theme            TEXT NOT NULL,
    description      TEXT NOT NULL,
    owner_org_id     UUID NOT NULL REFERENCES organizations (id),
    visibility       TEXT NOT NULL CHECK (visibility IN ('public', 'scoped')),
    scope_org_id     UUID NOT NULL REFERENCES organizations (id),
    scope_path       TEXT NOT NULL,
    owner_path       TEXT NOT NULL,
    published_from   BIGINT,
    published_until  BIGINT,
    created_by       UUID NOT NULL REFERENCES users (id),
    version          INTEGER NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE course_list_items (
    list_id    UUID NOT NULL REFERENCES course_lists (id) ON DELETE CASCADE,
    course_id  UUID NOT NULL REFERENCES courses (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (list_id, course_id)
);
CREATE INDEX course_list_items_course ON course_list_items (course_id);

-- Search postings: one row per (term, course) with the summed field weight of the term in the
-- course (title 20, lecturer 8, topics and tags 6, summary 1 per occurrence, capped).
CREATE TABLE search_terms (
    term       TEXT NOT NULL,
    course_id  UUID NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    score      INTEGER NOT NULL,
    -- INCLUDE: a lookup is an index-only scan.
    PRIMARY KEY (term, course_id) INCLUDE (score)
);
CREATE INDEX search_terms_course ON search_terms (course_id);
