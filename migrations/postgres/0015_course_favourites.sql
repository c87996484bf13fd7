-- 收藏: courses a parent keeps to watch later. Erased with the account.
CREATE TABLE course_favourites (
    user_id     UUID NOT NULL REFERENCES users (id),
    course_id   UUID NOT NULL REFERENCES courses (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, course_id)
);
CREATE INDEX course_favourites_recent ON course_favourites (user_id, created_at);
