-- Where a user watched an asset: the lesson (of a course) whose page played it. One video may
-- serve several courses; 我的学习 shows the courses it was watched in, not every course that
-- uses it, and 继续学习 returns to the lesson last watched. The lesson id is not a foreign key:
-- media knows no lessons, and a lesson removed from its course leaves its record behind.
CREATE TABLE watch_places (
    user_id    BLOB NOT NULL REFERENCES users (id),
    asset_id   BLOB NOT NULL REFERENCES assets (id),
    lesson_id  BLOB NOT NULL,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, asset_id, lesson_id)
);
CREATE INDEX watch_places_recent ON watch_places (user_id, last_at);
