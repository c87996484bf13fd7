-- Trust: one wall-clock budget per user over recorded lessons and live lectures.
-- `credit_allowance` becomes that budget: live time is credited from it too, and `live_until`
-- is how far the user's live time has been credited (one cursor over all lectures, so two
-- lectures open at once are counted once).
ALTER TABLE credit_allowance ADD COLUMN live_until BIGINT NOT NULL DEFAULT 0;

-- Each credited increment of live time, per lecture, with when it was earned (as
-- `study_credits` is for recorded lessons).
CREATE TABLE live_credits (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurrence_id  UUID NOT NULL REFERENCES live_occurrences (id) ON DELETE CASCADE,
    credited_ms    BIGINT NOT NULL,
    earned_at      BIGINT NOT NULL
);
CREATE INDEX live_credits_user ON live_credits (user_id, earned_at);

-- Live credit earned before the budget: what attendance gave (the union of each user's
-- connections to a lecture), as one row per lecture.
INSERT INTO live_credits (id, user_id, occurrence_id, credited_ms, earned_at)
WITH s AS (
    SELECT user_id, occurrence_id, joined_at AS a, COALESCE(left_at, seen_until) AS b
    FROM live_attendance WHERE COALESCE(left_at, seen_until) > joined_at
), m AS (
    SELECT s.*, MAX(b) OVER (PARTITION BY user_id, occurrence_id ORDER BY a, b
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM s
), g AS (
    SELECT m.*, SUM(CASE WHEN prev_end IS NULL OR a > prev_end THEN 1 ELSE 0 END)
                OVER (PARTITION BY user_id, occurrence_id ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS grp
    FROM m
), i AS (
    SELECT user_id, occurrence_id, MIN(a) AS a, MAX(b) AS b FROM g GROUP BY user_id, occurrence_id, grp
)
SELECT gen_random_uuid(), user_id, occurrence_id, SUM(b - a), MAX(b) FROM i GROUP BY user_id, occurrence_id;

-- Strict credit (`media.strict_credit`): the media segments each user's playback URL fetched.
CREATE TABLE segment_fetches (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    asset_id   UUID NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    rendition  TEXT NOT NULL,
    segment    INTEGER NOT NULL,
    PRIMARY KEY (user_id, asset_id, rendition, segment)
);
