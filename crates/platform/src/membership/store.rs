//! The queries of membership: an organization by join code, a membership added (joining again
//! by consent upgrades one of unknown origin) or removed, the direct members of an organization,
//! and invitations by phone (renewed, listed for the invited user, found, deleted).

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::{InvitationId, OrgId, UserId};
use crate::orgs::{OrgRow, Via};
use crate::validate::{OrgKind, Role};
use crate::{db_execute, with_db};

/// A direct member of an organization (the phone number still unmasked).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct MemberRow {
    pub(super) id: UserId,
    pub(super) display_name: String,
    pub(super) phone: Option<String>,
    #[sqlx(try_from = "String")]
    pub(super) role: Role,
}

/// An open invitation with its organization and the name of the staff member who invited.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct InvitationRow {
    pub(super) id: InvitationId,
    pub(super) org_id: OrgId,
    pub(super) name: String,
    #[sqlx(try_from = "String")]
    pub(super) kind: OrgKind,
    pub(super) parent_id: Option<OrgId>,
    pub(super) partner_type: Option<crate::validate::PartnerType>,
    pub(super) invited_by_name: String,
    pub(super) expires_at: Timestamp,
}

pub(super) async fn org_by_join_code(db: &Db, code: &str) -> Result<Option<OrgRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, OrgRow>(&format!(
        "SELECT {} FROM organizations WHERE join_code = $1",
        crate::orgs::ORG_COLUMNS
    ))
    .bind(code)
    .fetch_optional(pool)
    .await)
}

/// Adds a membership; joining again by consent upgrades one of unknown origin.
pub(super) async fn add_membership(
    db: &Db,
    user: UserId,
    org: OrgId,
    via: Via,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO memberships (user_id, org_id, created_at, via) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, org_id) DO UPDATE SET via = excluded.via WHERE memberships.via = 'unknown'",
        user,
        org,
        now,
        via.as_str(),
    )?;
    Ok(())
}

/// Up to `rows` active direct members of `org`, by user id after `after`.
pub(super) async fn members(
    db: &Db,
    org: OrgId,
    after: Option<UserId>,
    rows: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as::<_, MemberRow>(
        "SELECT u.id, u.display_name, u.phone, u.role FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND u.deleted_at IS NULL AND ($2 IS NULL OR u.id > $2) ORDER BY u.id LIMIT $3",
    )
    .bind(org)
    .bind(after)
    .bind(rows)
    .fetch_all(pool)
    .await)
}

/// Invites `phone` to `org` until `expires_at`; a repeated invitation is renewed, not duplicated.
pub(super) async fn put_invitation(
    db: &Db,
    org: OrgId,
    phone: &str,
    invited_by: UserId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO org_invitations (id, org_id, phone, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id, phone) DO UPDATE SET invited_by = excluded.invited_by, created_at = \
         excluded.created_at, expires_at = excluded.expires_at",
        InvitationId::new(),
        org,
        phone,
        invited_by,
        now,
        expires_at,
    )?;
    Ok(())
}

/// The invitations open at `now` for `user`'s phone number to organizations they have not
/// joined by consent, the newest first (at most 50).
pub(super) async fn open_invitations(db: &Db, user: UserId, now: Timestamp) -> Result<Vec<InvitationRow>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, InvitationRow>(
            "SELECT i.id, o.id AS org_id, o.name, o.kind, o.parent_id, o.partner_type, s.display_name AS \
             invited_by_name, i.expires_at
         FROM org_invitations i JOIN users u ON u.phone = i.phone JOIN organizations o ON o.id = i.org_id
              JOIN users s ON s.id = i.invited_by
         WHERE u.id = $1 AND u.deleted_at IS NULL AND i.expires_at > $2
           AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.org_id = i.org_id AND m.via <> \
             'unknown')
         ORDER BY i.created_at DESC LIMIT 50",
        )
        .bind(user)
        .bind(now)
        .fetch_all(pool)
        .await
    })
}

/// The organization of invitation `id` when it is open at `now` for `user`'s phone number.
pub(super) async fn open_invitation_org(
    db: &Db,
    id: InvitationId,
    user: UserId,
    now: Timestamp,
) -> Result<Option<OrgId>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, OrgId>(
        "SELECT i.org_id FROM org_invitations i JOIN users u ON u.phone = i.phone
         WHERE i.id = $1 AND u.id = $2 AND u.deleted_at IS NULL AND i.expires_at > $3",
    )
    .bind(id)
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

pub(super) async fn delete_invitation(db: &Db, id: InvitationId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM org_invitations WHERE id = $1", id)?;
    Ok(())
}

pub(super) async fn remove_membership(db: &Db, org: OrgId, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
        org,
        user
    )?;
    Ok(())
}
