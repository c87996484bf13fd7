-- Trust: the replay course of a series is named by id on the series, not found by an external
-- id that anyone creating a course could claim. Replay courses made before are bound to their
-- series once, by the external id they were made with (`live-replay-<series id>`).
ALTER TABLE live_series ADD COLUMN replay_course_id BLOB;
UPDATE live_series SET replay_course_id = (
    SELECT c.id FROM courses c
    WHERE c.external_id = 'live-replay-' || lower(substr(hex(live_series.id), 1, 8) || '-' || substr(hex(live_series.id), 9, 4) || '-'
        || substr(hex(live_series.id), 13, 4) || '-' || substr(hex(live_series.id), 17, 4) || '-' || substr(hex(live_series.id), 21))
);
