-- Live series: age stages, and cancellation notices.
-- The child age stages a live series is for (JSON array of codes, as on courses); its replay
-- course carries them. '[]' (series made before): every stage.
ALTER TABLE live_series ADD COLUMN age_stages TEXT NOT NULL DEFAULT '[]';

-- A cancelled lecture is told to those with a seat or a waitlist place.
ALTER TABLE live_notifications DROP CONSTRAINT live_notifications_kind_check;
ALTER TABLE live_notifications ADD CONSTRAINT live_notifications_kind_check
    CHECK (kind IN ('reminder', 'replay_ready', 'cancelled'));
