-- 教联体: partner units (museums, hospitals, police, libraries…) as organizations of kind
-- 'partner' with a type, and the organizations each one serves.
ALTER TABLE organizations DROP CONSTRAINT organizations_kind_check;
ALTER TABLE organizations ADD CONSTRAINT organizations_kind_check
    CHECK (kind IN ('province', 'city', 'county', 'school', 'class', 'partner'));
-- A partner's type; NULL for every other kind.
ALTER TABLE organizations ADD COLUMN partner_type TEXT CHECK (partner_type IN ('museum', 'hospital',
    'police', 'library', 'sports', 'community', 'university', 'other'));
ALTER TABLE organizations ADD CONSTRAINT organizations_partner_kind_check
    CHECK ((kind = 'partner') = (partner_type IS NOT NULL));

-- A partner serves schools, counties or cities; its staff publish to those and below.
CREATE TABLE organization_serves (
    partner_id  UUID NOT NULL REFERENCES organizations (id),
    served_id   UUID NOT NULL REFERENCES organizations (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (partner_id, served_id)
);
CREATE INDEX organization_serves_served ON organization_serves (served_id);
