//! 结业证书 / 学习证书. A curator defines a rule for their subtree ([`rules::check`]: a period
//! and any of total, live and offline hours, N courses of a list, their quizzes); the durable
//! job `evaluation.certificates` (`job`) issues a certificate to each member who meets it, once,
//! and tells them through the text gateway. It runs when the rule is made, when staff ask, and
//! from the server's sweep while the period is open or just over. Each certificate has a
//! 12-character code ([`platform::ids::readable_code`], 60 bits): its public verification shows
//! the name masked, and staff in scope may revoke it with a reason. `store` holds the queries,
//! `routes` the handlers.

mod files;
mod job;
pub mod render;
mod routes;
pub mod rules;
mod store;

use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::http::Page;
use platform::ids::OrgId;
use platform::scope::Scope;
use platform::validate::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use files::{Format, MAX_SEAL_BYTES};
pub use job::{CERTIFICATES, CertificateJob};
pub(crate) use routes::router;
pub(crate) use store::erase;

use crate::{Evaluation, EvaluationError, EvaluationResult};

/// Characters in a certificate's code.
pub const CODE_LEN: usize = 12;

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: uuid::Uuid,
    pub name: String,
    pub scope_org_id: OrgId,
    pub from: Timestamp,
    pub to: Timestamp,
    pub min_hours: Option<f64>,
    pub min_live_hours: Option<f64>,
    pub min_offline_hours: Option<f64>,
    pub list_id: Option<catalog::ListId>,
    pub min_courses: Option<i32>,
    pub require_quizzes: bool,
    pub created_at: Timestamp,
    /// Certificates issued under it so far.
    pub issued: i64,
}

impl From<store::RuleRow> for RuleView {
    fn from(r: store::RuleRow) -> Self {
        let hours = |ms: Option<i64>| ms.map(|m| m as f64 / 3_600_000.0);
        Self {
            id: r.id,
            name: r.name,
            scope_org_id: r.scope_org_id,
            from: r.from_at,
            to: r.to_at,
            min_hours: hours(r.min_total_ms),
            min_live_hours: hours(r.min_live_ms),
            min_offline_hours: hours(r.min_offline_ms),
            list_id: r.list_id,
            min_courses: r.min_courses,
            require_quizzes: r.require_quizzes,
            created_at: r.created_at,
            issued: r.issued,
        }
    }
}

/// A certificate as its holder and the staff in scope see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub code: String,
    /// The rule's name.
    pub title: String,
    /// As the member entered it when it was issued.
    pub name: String,
    /// Study hours credited in the rule's period.
    pub hours: f64,
    pub issuer: String,
    pub issued_at: Timestamp,
    pub revoked: bool,
    pub revoked_reason: Option<String>,
    /// The public page that checks it.
    pub verify_url: String,
}

/// What anyone with the code may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub code: String,
    /// `valid` or `revoked`.
    pub status: String,
    pub valid: bool,
    /// Masked, e.g. 张**.
    pub name: String,
    pub title: String,
    pub hours: f64,
    pub issuer: String,
    pub issued_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationInput {
    /// 1–200 characters, shown on the verification page.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub job_id: platform::ids::JobId,
}

fn hours(ms: i64) -> f64 {
    (ms as f64 / 360_000.0).round() / 10.0
}

impl store::CertificateRow {
    fn view(self) -> CertificateView {
        CertificateView {
            verify_url: format!("/verify/{}", self.code),
            code: self.code,
            title: self.title,
            name: self.name,
            hours: hours(self.credited_ms),
            issuer: self.issuer_name,
            issued_at: self.issued_at,
            revoked: self.revoked_at.is_some(),
            revoked_reason: self.revoked_reason,
        }
    }

    fn verification(self) -> Verification {
        Verification {
            status: if self.revoked_at.is_some() { "revoked" } else { "valid" }.to_owned(),
            valid: self.revoked_at.is_none(),
            name: platform::validate::mask_name(&self.name),
            code: self.code,
            title: self.title,
            hours: hours(self.credited_ms),
            issuer: self.issuer_name,
            issued_at: self.issued_at,
            revoked_at: self.revoked_at,
            revoked_reason: self.revoked_reason,
        }
    }
}

/// A code as typed: upper case, spaces and dashes dropped.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

impl Evaluation {
    /// Staff who manage `path`: curators whose subtree holds it, and admins.
    async fn manages(&self, user: &AuthUser, path: &str) -> EvaluationResult<bool> {
        Ok(Scope::load(&self.db, Some(user)).await?.manages(path))
    }

    async fn managed_rule(&self, user: &AuthUser, id: uuid::Uuid) -> EvaluationResult<store::RuleRow> {
        let rule = store::rule(&self.db, id).await?.ok_or(EvaluationError::RuleNotFound)?;
        if !self.manages(user, &rule.scope_path).await? {
            return Err(EvaluationError::RuleNotFound);
        }
        Ok(rule)
    }

    /// Defines a rule for an organization the caller manages and queues its first run.
    pub async fn create_rule(&self, user: &AuthUser, input: rules::RuleInput) -> EvaluationResult<RuleView> {
        user.require_role(&[Role::Curator, Role::Admin])?;
        let (name, c) = rules::check(&input).map_err(EvaluationError::Invalid)?;
        platform::orgs::require_scope(&self.db, user, input.scope_org_id).await?;
        if let Some(list) = c.list_id {
            self.catalog.list_title(user, list).await.map_err(|_| {
                EvaluationError::Invalid(vec![FieldError::new(
                    "list_id",
                    msg("课程清单不存在或你无权查看。", "No such list, or you may not see it."),
                )])
            })?;
        }
        let path = platform::orgs::org_path(&self.db, input.scope_org_id).await?;
        let id = uuid::Uuid::now_v7();
        store::insert_rule(
            &self.db,
            &store::NewRule {
                id,
                name: &name,
                scope_org_id: input.scope_org_id,
                scope_path: &path,
                c: &c,
                by: user.id,
                at: self.clock.now(),
            },
        )
        .await?;
        self.queue_run(id).await?;
        let rule = store::rule(&self.db, id).await?.ok_or(EvaluationError::RuleNotFound)?;
        Ok(rule.into())
    }

    async fn queue_run(&self, rule: uuid::Uuid) -> EvaluationResult<platform::ids::JobId> {
        Ok(self
            .jobs
            .enqueue(CERTIFICATES, &serde_json::json!({ "rule_id": rule }), 5)
            .await?)
    }

    /// The rules of an organization the caller manages and of those below it, newest first.
    pub async fn rules(&self, user: &AuthUser, org: OrgId) -> EvaluationResult<Vec<RuleView>> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        let path = platform::orgs::org_path(&self.db, org).await?;
        Ok(store::rules_under(&self.db, &path, 200)
            .await?
            .into_iter()
            .map(RuleView::from)
            .collect())
    }

    /// Queues a run of a rule now (新达标的成员立即发证).
    pub async fn run_rule(&self, user: &AuthUser, id: uuid::Uuid) -> EvaluationResult<RunView> {
        self.managed_rule(user, id).await?;
        Ok(RunView {
            job_id: self.queue_run(id).await?,
        })
    }

    /// Queues a run of every rule whose period is open or ended within a week (the sweep).
    pub async fn sweep_rules(&self) -> EvaluationResult<usize> {
        let open = store::open_rules(&self.db, self.clock.now(), 7 * 24 * 3_600_000).await?;
        for id in &open {
            self.queue_run(*id).await?;
        }
        Ok(open.len())
    }

    /// The certificates a rule issued, in issue order (staff in scope).
    pub async fn issued(
        &self,
        user: &AuthUser,
        id: uuid::Uuid,
        page: &platform::http::PageQuery,
    ) -> EvaluationResult<Page<CertificateView>> {
        let limit = page.limit()?;
        self.managed_rule(user, id).await?;
        let after = match page.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(
                c.parse()
                    .map_err(|_| EvaluationError::field("cursor", msg("分页游标无效。", "Invalid cursor.")))?,
            ),
        };
        let mut rows = store::of_rule(&self.db, id, after, i64::from(limit) + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(Page {
            items: rows.into_iter().map(store::CertificateRow::view).collect(),
            next_cursor,
        })
    }

    /// 我的证书: the caller's certificates, newest first.
    pub async fn my_certificates(&self, user: &AuthUser) -> EvaluationResult<Vec<CertificateView>> {
        Ok(store::of_user(&self.db, user.id)
            .await?
            .into_iter()
            .map(store::CertificateRow::view)
            .collect())
    }

    /// The public check of a code.
    pub async fn verify(&self, code: &str) -> EvaluationResult<Verification> {
        Ok(store::by_code(&self.db, &normalise_code(code))
            .await?
            .ok_or(EvaluationError::CertificateNotFound)?
            .verification())
    }

    /// Revokes a certificate with a reason (staff who manage the rule's organization).
    pub async fn revoke(&self, user: &AuthUser, code: &str, input: RevocationInput) -> EvaluationResult<Verification> {
        let cert = store::by_code(&self.db, &normalise_code(code))
            .await?
            .ok_or(EvaluationError::CertificateNotFound)?;
        let own = cert.user_id == user.id;
        if !self.manages(user, &cert.scope_path).await? {
            return Err(if own {
                EvaluationError::RevocationOutOfScope
            } else {
                EvaluationError::CertificateNotFound
            });
        }
        let reason = platform::validate::name(&input.reason, 200)
            .map_err(|m| EvaluationError::Invalid(vec![FieldError::new("reason", m)]))?;
        if !store::revoke(&self.db, cert.id, user.id, &reason, self.clock.now()).await? {
            return Err(EvaluationError::AlreadyRevoked);
        }
        self.verify(&cert.code).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_typed() {
        assert_eq!(normalise_code(" abcd-efgh 2345 "), "ABCDEFGH2345");
        assert_eq!(platform::ids::readable_code(CODE_LEN).len(), CODE_LEN);
    }

    #[test]
    fn hours_keep_one_decimal() {
        assert_eq!(hours(5_400_000), 1.5);
        assert_eq!(hours(3_599_999), 1.0);
        assert_eq!(hours(0), 0.0);
    }
}
