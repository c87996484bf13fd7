-- Captions: one WebVTT track per asset and language, offered as HLS subtitle renditions.
CREATE TABLE asset_captions (
    asset_id    BLOB NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    lang        TEXT NOT NULL,
    label       TEXT NOT NULL,
    -- The WebVTT object in the store (a fresh key per upload, so caches never see stale text).
    object_key  TEXT NOT NULL,
    cues        INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (asset_id, lang)
);
