-- 结业证书 / 学习证书. A rule of an organization's subtree: a period and any of its conditions
-- (NULL: not asked): total, live and offline study time credited in the period, N courses of
-- a curated list completed in it, their quizzes passed. A durable job issues certificates to
-- the members who meet it, once each.
CREATE TABLE certificate_rules (
    id                  UUID PRIMARY KEY,
    name                TEXT NOT NULL,
    scope_org_id        UUID NOT NULL REFERENCES organizations (id),
    scope_path          TEXT NOT NULL,
    from_at             BIGINT NOT NULL,
    to_at               BIGINT NOT NULL,
    min_total_ms        BIGINT,
    min_live_ms         BIGINT,
    min_offline_ms      BIGINT,
    list_id             UUID REFERENCES course_lists (id),
    min_courses         INTEGER,
    require_quizzes     BOOLEAN NOT NULL,
    created_by          UUID NOT NULL REFERENCES users (id),
    created_at          BIGINT NOT NULL,
    CHECK (to_at > from_at)
);
CREATE INDEX certificate_rules_scope ON certificate_rules (scope_path);

-- One certificate per rule and member. The short code is the public handle (verification,
-- the image); the name is as the member entered it when it was issued. A revoked certificate
-- stays, with why and by whom. `notified_at` is set once the member was told.
CREATE TABLE certificates (
    id              UUID PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    rule_id         UUID NOT NULL REFERENCES certificate_rules (id),
    user_id         UUID NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    title           TEXT NOT NULL,
    credited_ms     BIGINT NOT NULL,
    issuer_org_id   UUID NOT NULL REFERENCES organizations (id),
    issuer_name     TEXT NOT NULL,
    issued_at       BIGINT NOT NULL,
    notified_at     BIGINT,
    revoked_at      BIGINT,
    revoked_by      UUID REFERENCES users (id),
    revoked_reason  TEXT,
    UNIQUE (rule_id, user_id)
);
CREATE INDEX certificates_user ON certificates (user_id, issued_at);
CREATE INDEX certificates_unnotified ON certificates (rule_id, notified_at);

-- An organization's seal (公章) image for its certificates, in the object store.
CREATE TABLE org_seals (
    org_id      UUID PRIMARY KEY REFERENCES organizations (id),
    object_key  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
