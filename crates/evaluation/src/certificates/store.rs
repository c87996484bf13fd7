//! The queries of certificates: rules (insert, one, those of a subtree, how many each issued),
//! certificates (issue once per rule and member, those still to notify, a member's, a rule's, by
//! code, revoke) and erasure.

use catalog::ListId;
use platform::ids::{OrgId, UserId};
use platform::{Db, Timestamp, db_execute, with_db};

use super::rules::Conditions;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct RuleRow {
    pub(super) id: uuid::Uuid,
    pub(super) name: String,
    pub(super) scope_org_id: OrgId,
    pub(super) scope_path: String,
    pub(super) from_at: Timestamp,
    pub(super) to_at: Timestamp,
    pub(super) min_total_ms: Option<i64>,
    pub(super) min_live_ms: Option<i64>,
    pub(super) min_offline_ms: Option<i64>,
    pub(super) list_id: Option<ListId>,
    pub(super) min_courses: Option<i32>,
    pub(super) require_quizzes: bool,
    pub(super) created_at: Timestamp,
    /// Certificates issued under it (revoked ones too).
    pub(super) issued: i64,
}

impl RuleRow {
    pub(super) fn conditions(&self) -> Conditions {
        Conditions {
            from: self.from_at,
            to: self.to_at,
            min_total_ms: self.min_total_ms,
            min_live_ms: self.min_live_ms,
            min_offline_ms: self.min_offline_ms,
            list_id: self.list_id,
            min_courses: self.min_courses.and_then(|n| u32::try_from(n).ok()),
            require_quizzes: self.require_quizzes,
        }
    }
}

const RULE_COLUMNS: &str = "r.id, r.name, r.scope_org_id, r.scope_path, r.from_at, r.to_at, r.min_total_ms, \
    r.min_live_ms, r.min_offline_ms, r.list_id, r.min_courses, r.require_quizzes, r.created_at, \
    (SELECT COUNT(*) FROM certificates c WHERE c.rule_id = r.id) AS issued";

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct CertificateRow {
    pub(super) id: uuid::Uuid,
    pub(super) code: String,
    pub(super) user_id: UserId,
    pub(super) name: String,
    pub(super) title: String,
    pub(super) credited_ms: i64,
    pub(super) issuer_org_id: OrgId,
    pub(super) issuer_name: String,
    pub(super) issued_at: Timestamp,
    pub(super) revoked_at: Option<Timestamp>,
    pub(super) revoked_reason: Option<String>,
    /// The rule's scope (who may revoke).
    pub(super) scope_path: String,
}

const CERT_COLUMNS: &str = "c.id, c.code, c.user_id, c.name, c.title, c.credited_ms, c.issuer_org_id, \
    c.issuer_name, c.issued_at, c.revoked_at, c.revoked_reason, r.scope_path";

/// A rule to insert.
#[derive(Debug)]
pub(super) struct NewRule<'a> {
    pub(super) id: uuid::Uuid,
    pub(super) name: &'a str,
    pub(super) scope_org_id: OrgId,
    pub(super) scope_path: &'a str,
    pub(super) c: &'a Conditions,
    pub(super) by: UserId,
    pub(super) at: Timestamp,
}

pub(super) async fn insert_rule(db: &Db, r: &NewRule<'_>) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "INSERT INTO certificate_rules (id, name, scope_org_id, scope_path, from_at, to_at, min_total_ms, \
         min_live_ms, min_offline_ms, list_id, min_courses, require_quizzes, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        r.id,
        r.name,
        r.scope_org_id,
        r.scope_path,
        r.c.from,
        r.c.to,
        r.c.min_total_ms,
        r.c.min_live_ms,
        r.c.min_offline_ms,
        r.c.list_id,
        r.c.min_courses.map(|n| n as i32),
        r.c.require_quizzes,
        r.by,
        r.at,
    )?;
    Ok(())
}

pub(super) async fn rule(db: &Db, id: uuid::Uuid) -> Result<Option<RuleRow>, sqlx::Error> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM certificate_rules r WHERE r.id = $1");
    with_db!(db, |pool| sqlx::query_as::<_, RuleRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// The rules of the subtree at `path` (its own and those of organizations below), newest first.
pub(super) async fn rules_under(db: &Db, path: &str, limit: i64) -> Result<Vec<RuleRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {RULE_COLUMNS} FROM certificate_rules r WHERE r.scope_path LIKE $1 \
         ORDER BY r.created_at DESC, r.id DESC LIMIT $2"
    );
    with_db!(db, |pool| sqlx::query_as::<_, RuleRow>(&sql)
        .bind(format!("{path}%"))
        .bind(limit)
        .fetch_all(pool)
        .await)
}

/// Rules whose period has not been over for more than `grace_ms` at `now`: those the sweep
/// checks again.
pub(super) async fn open_rules(db: &Db, now: Timestamp, grace_ms: i64) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, uuid::Uuid>(
        "SELECT id FROM certificate_rules WHERE from_at <= $1 AND to_at >= $2"
    )
    .bind(now)
    .bind(Timestamp(now.0.saturating_sub(grace_ms)))
    .fetch_all(pool)
    .await)
}

/// A certificate to issue.
#[derive(Debug)]
pub(super) struct NewCertificate<'a> {
    pub(super) code: &'a str,
    pub(super) rule: &'a RuleRow,
    pub(super) user: UserId,
    pub(super) name: &'a str,
    pub(super) credited_ms: i64,
    pub(super) issuer_name: &'a str,
    pub(super) at: Timestamp,
}

/// Issues the certificate unless the member has one under the rule already; whether it did.
pub(super) async fn issue(db: &Db, c: &NewCertificate<'_>) -> Result<bool, sqlx::Error> {
    let n = db_execute!(
        db,
        "INSERT INTO certificates (id, code, rule_id, user_id, name, title, credited_ms, issuer_org_id, \
         issuer_name, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (rule_id, user_id) DO NOTHING",
        uuid::Uuid::now_v7(),
        c.code,
        c.rule.id,
        c.user,
        c.name,
        c.rule.name.as_str(),
        c.credited_ms,
        c.rule.scope_org_id,
        c.issuer_name,
        c.at,
    )?;
    Ok(n > 0)
}

/// The rule's certificates whose member was not told yet, with their phone numbers.
pub(super) async fn unnotified(
    db: &Db,
    rule: uuid::Uuid,
) -> Result<Vec<(uuid::Uuid, UserId, String, String, Option<String>)>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_as(
        "SELECT c.id, c.user_id, c.code, c.title, u.phone FROM certificates c JOIN users u ON u.id = c.user_id \
         WHERE c.rule_id = $1 AND c.notified_at IS NULL ORDER BY c.issued_at, c.id"
    )
    .bind(rule)
    .fetch_all(pool)
    .await)
}

pub(super) async fn mark_notified(db: &Db, id: uuid::Uuid, at: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(db, "UPDATE certificates SET notified_at = $2 WHERE id = $1", id, at)?;
    Ok(())
}

pub(super) async fn of_user(db: &Db, user: UserId) -> Result<Vec<CertificateRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates c JOIN certificate_rules r ON r.id = c.rule_id \
         WHERE c.user_id = $1 ORDER BY c.issued_at DESC, c.id DESC"
    );
    with_db!(db, |pool| sqlx::query_as::<_, CertificateRow>(&sql)
        .bind(user)
        .fetch_all(pool)
        .await)
}

/// Up to `limit` certificates of a rule in issue order, after the certificate `after`.
pub(super) async fn of_rule(
    db: &Db,
    rule: uuid::Uuid,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> Result<Vec<CertificateRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates c JOIN certificate_rules r ON r.id = c.rule_id \
         WHERE c.rule_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3"
    );
    with_db!(db, |pool| sqlx::query_as::<_, CertificateRow>(&sql)
        .bind(rule)
        .bind(after.unwrap_or(uuid::Uuid::nil()))
        .bind(limit)
        .fetch_all(pool)
        .await)
}

pub(super) async fn by_code(db: &Db, code: &str) -> Result<Option<CertificateRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates c JOIN certificate_rules r ON r.id = c.rule_id WHERE c.code = $1"
    );
    with_db!(db, |pool| sqlx::query_as::<_, CertificateRow>(&sql)
        .bind(code)
        .fetch_optional(pool)
        .await)
}

/// Revokes a valid certificate; whether it was valid.
pub(super) async fn revoke(
    db: &Db,
    id: uuid::Uuid,
    by: UserId,
    reason: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let n = db_execute!(
        db,
        "UPDATE certificates SET revoked_at = $2, revoked_by = $3, revoked_reason = $4 \
         WHERE id = $1 AND revoked_at IS NULL",
        id,
        at,
        by,
        reason,
    )?;
    Ok(n > 0)
}

/// Where an organization's seal image is kept.
pub(super) async fn seal_key(db: &Db, org: OrgId) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT object_key FROM org_seals WHERE org_id = $1"
    )
    .bind(org)
    .fetch_optional(pool)
    .await)
}

/// Points the organization at a new seal image; returns the key it replaced.
pub(super) async fn set_seal(db: &Db, org: OrgId, key: &str, at: Timestamp) -> Result<Option<String>, sqlx::Error> {
    let old = seal_key(db, org).await?;
    db_execute!(
        db,
        "INSERT INTO org_seals (org_id, object_key, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id) DO UPDATE SET object_key = excluded.object_key, updated_at = excluded.updated_at",
        org,
        key,
        at,
    )?;
    Ok(old)
}

/// Removes the organization's seal; returns its key.
pub(super) async fn delete_seal(db: &Db, org: OrgId) -> Result<Option<String>, sqlx::Error> {
    let old = seal_key(db, org).await?;
    db_execute!(db, "DELETE FROM org_seals WHERE org_id = $1", org)?;
    Ok(old)
}

/// A deleted account's certificates go with it (their codes then verify as unknown).
pub(crate) async fn erase(db: &Db, user: UserId) -> Result<(), sqlx::Error> {
    db_execute!(db, "DELETE FROM certificates WHERE user_id = $1", user)?;
    Ok(())
}
