//! The job that issues a rule's certificates: every member of the rule's subtree, a page at a
//! time, with their study in the period from the same stored credit the reports read (media,
//! live attendance, offline check-ins), their completed lessons and passed quizzes when the rule
//! names a list; a certificate for each who meets it (once: the store ignores a second), then a
//! text to each not yet told. Running it again is harmless.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use platform::ids::UserId;
use platform::jobs::{Job, JobContext, JobError, JobHandler};

use super::rules::{self, PlanCourse, Study};
use super::{CODE_LEN, store};
use crate::{Evaluation, EvaluationError, EvaluationResult};

/// The job kind.
pub const CERTIFICATES: &str = "evaluation.certificates";

/// Members read per page.
const PAGE: i64 = 200;

/// Runs [`CERTIFICATES`] jobs.
#[derive(Debug, Clone)]
pub struct CertificateJob(pub(crate) Evaluation);

#[async_trait]
impl JobHandler for CertificateJob {
    fn kind(&self) -> &'static str {
        CERTIFICATES
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<(), JobError> {
        let id = job
            .payload
            .get("rule_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<uuid::Uuid>().ok())
            .ok_or_else(|| JobError::Fatal("no rule_id in the payload".into()))?;
        let issued = self
            .0
            .issue(id, ctx)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(rule = %id, issued, "certificates issued");
        self.0.notify(id).await.map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(())
    }
}

impl Evaluation {
    /// The job's handler.
    pub fn certificate_job(&self) -> CertificateJob {
        CertificateJob(self.clone())
    }

    /// The courses of the rule's list with their videos and quizzes.
    async fn plan(&self, rule: &store::RuleRow) -> EvaluationResult<Vec<PlanCourse>> {
        let Some(list) = rule.list_id else {
            return Ok(Vec::new());
        };
        let courses = self.catalog.list_study_plan(list).await?;
        let ids: Vec<catalog::CourseId> = courses.iter().map(|c| c.0).collect();
        let quizzes = self.catalog.quiz_lessons(&ids).await?;
        Ok(courses
            .into_iter()
            .map(|(course, assets)| PlanCourse {
                course,
                assets,
                quizzes: quizzes.iter().filter(|q| q.0 == course).map(|q| (q.1, q.2)).collect(),
            })
            .collect())
    }

    /// How many of `plan`'s courses `user` completed in the rule's period.
    async fn courses_done(&self, rule: &store::RuleRow, plan: &[PlanCourse], user: UserId) -> EvaluationResult<usize> {
        if plan.is_empty() {
            return Ok(0);
        }
        let completed: BTreeSet<String> = self
            .media
            .progress_of(user)
            .await?
            .into_iter()
            .filter(|p| p.completed_at.is_some_and(|t| t >= rule.from_at && t < rule.to_at))
            .map(|p| p.asset_id.to_string())
            .collect();
        let lessons: Vec<catalog::LessonId> = plan.iter().flat_map(|c| c.quizzes.iter().map(|q| q.0)).collect();
        let passed = self.catalog.passed_lessons(user, &lessons).await?;
        Ok(plan
            .iter()
            .filter(|c| rules::course_done(c, &completed, &passed, rule.require_quizzes))
            .count())
    }

    /// Issues the rule's certificates to the members who meet it; how many were new.
    async fn issue(&self, id: uuid::Uuid, ctx: &JobContext) -> EvaluationResult<usize> {
        let rule = store::rule(&self.db, id).await?.ok_or(EvaluationError::RuleNotFound)?;
        let conditions = rule.conditions();
        let plan = self.plan(&rule).await?;
        let issuer = platform::orgs::org_name(&self.db, rule.scope_org_id).await?;
        let (from, to) = (rule.from_at, rule.to_at);
        let mut after = None;
        let mut issued = 0;
        loop {
            let members = platform::orgs::subtree_members(&self.db, rule.scope_org_id, after, PAGE).await?;
            let Some(last) = members.last() else { break };
            after = Some(last.user_id);
            let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
            let media = self.media.totals_for(&ids, from, to).await?;
            let live: HashMap<UserId, i64> = self.live.attendance().totals_for(&ids, from, to).await?;
            let offline = self.live.offline().totals_for(&ids, from, to).await?;
            for m in &members {
                let (media_ms, _) = media.get(&m.user_id).copied().unwrap_or((0, 0));
                let live_ms = live.get(&m.user_id).copied().unwrap_or(0);
                let offline_ms = offline.get(&m.user_id).copied().unwrap_or(0);
                let mut study = Study {
                    total_ms: media_ms + live_ms + offline_ms,
                    live_ms,
                    offline_ms,
                    courses_done: 0,
                };
                study.courses_done = self.courses_done(&rule, &plan, m.user_id).await?;
                if !rules::meets(&conditions, &study, plan.len()) {
                    continue;
                }
                let code = platform::ids::readable_code(CODE_LEN);
                let new = store::issue(
                    &self.db,
                    &store::NewCertificate {
                        code: &code,
                        rule: &rule,
                        user: m.user_id,
                        name: &m.display_name,
                        credited_ms: study.total_ms,
                        issuer_name: &issuer,
                        at: self.clock.now(),
                    },
                )
                .await?;
                issued += usize::from(new);
            }
            ctx.progress(50);
            if (members.len() as i64) < PAGE {
                break;
            }
        }
        Ok(issued)
    }

    /// Tells each member of the rule not yet told about their certificate (by text message when
    /// a gateway is configured, else in the log), then marks them told.
    async fn notify(&self, rule: uuid::Uuid) -> EvaluationResult<()> {
        for (id, user, code, title, phone) in store::unnotified(&self.db, rule).await? {
            let url = format!("{}/verify/{code}", self.public_url.as_deref().unwrap_or(""));
            let text =
                format!("【家长学校】恭喜你获得「{title}」，证书编号 {code}。在「我的证书」查看和下载，验证：{url}");
            match (&self.texts, phone) {
                (Some(gateway), Some(phone)) => {
                    let message = platform::texts::TextMessage {
                        id,
                        kind: "certificate_issued",
                        user_id: user,
                        phone,
                        text,
                    };
                    gateway.send_text(&message).await.map_err(EvaluationError::Internal)?;
                }
                _ => tracing::info!(user = %user, %code, "certificate issued (no text gateway): {text}"),
            }
            store::mark_notified(&self.db, id, self.clock.now()).await?;
        }
        Ok(())
    }
}
