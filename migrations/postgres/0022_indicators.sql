-- 评价指标: an organization's indicator system (JSON: the coverage hours and, per measure, its
-- target and weight). Organizations without one use their nearest ancestor's, else the default.
CREATE TABLE org_indicators (
    org_id      UUID PRIMARY KEY REFERENCES organizations (id),
    indicators  TEXT NOT NULL,
    updated_by  UUID REFERENCES users (id),
    updated_at  BIGINT NOT NULL
);
