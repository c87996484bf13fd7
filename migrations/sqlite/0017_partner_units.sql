-- 教联体: partner units (museums, hospitals, police, libraries…) as organizations of kind
-- 'partner' with a type, and the organizations each one serves. SQLite cannot change a CHECK
-- constraint, so the tree is rebuilt with the same rows; foreign keys from other tables are
-- checked at commit, when every row is back.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE organizations_copy AS SELECT * FROM organizations;
DROP TABLE organizations;
CREATE TABLE organizations (
    id            BLOB PRIMARY KEY,
    parent_id     BLOB REFERENCES organizations (id),
    kind          TEXT NOT NULL CHECK (kind IN ('province', 'city', 'county', 'school', 'class', 'partner')),
    name          TEXT NOT NULL,
    -- Materialised path '/root-id/…/own-id/': a subtree is `path LIKE '<ancestor path>%'`.
    path          TEXT NOT NULL UNIQUE,
    join_code     TEXT UNIQUE,
    created_at    BIGINT NOT NULL,
    -- A partner's type; NULL for every other kind.
    partner_type  TEXT CHECK (partner_type IN ('museum', 'hospital', 'police', 'library', 'sports',
                                               'community', 'university', 'other')),
    CHECK ((kind = 'partner') = (partner_type IS NOT NULL))
);
INSERT INTO organizations (id, parent_id, kind, name, path, join_code, created_at)
    SELECT id, parent_id, kind, name, path, join_code, created_at FROM organizations_copy;
DROP TABLE organizations_copy;
CREATE INDEX organizations_parent ON organizations (parent_id);

-- A partner serves schools, counties or cities; its staff publish to those and below.
CREATE TABLE organization_serves (
    partner_id  BLOB NOT NULL REFERENCES organizations (id),
    served_id   BLOB NOT NULL REFERENCES organizations (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (partner_id, served_id)
);
CREATE INDEX organization_serves_served ON organization_serves (served_id);
