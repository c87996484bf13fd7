-- A parent's children (孩子), for recommendations by age stage: a nickname and either a birth
-- (or due) month or a school grade with the school year it was given in. Nothing else about a
-- minor: no names, no ID numbers. Deleted with the parent's account, or one by one.
CREATE TABLE children (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL REFERENCES users (id),
    nickname           TEXT NOT NULL,
    birth_year         INTEGER,
    birth_month        INTEGER CHECK (birth_month BETWEEN 1 AND 12),
    -- −2 小班 … 0 大班, 1–6 小学, 7–9 初中, 10–12 高中; it moves up every September.
    grade              INTEGER CHECK (grade BETWEEN -2 AND 12),
    grade_school_year  INTEGER,
    created_at         BIGINT NOT NULL,
    CHECK ((birth_year IS NULL) = (birth_month IS NULL)),
    CHECK ((grade IS NULL) = (grade_school_year IS NULL)),
    CHECK ((birth_year IS NULL) <> (grade IS NULL))
);
CREATE INDEX children_user ON children (user_id);
