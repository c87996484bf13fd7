//! Series (a weekly lecture run by one expert) and their occurrences, materialised at creation
//! from the recurrence rule; an edit re-expands the rule and touches future scheduled
//! occurrences only (same start: kept with its enrolments; gone: cancelled; new: created and
//! filled from whole-series enrolments).

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::msg;
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::SeriesId;
use crate::schedule::Schedule;
use crate::store;
pub use crate::store::series::OccurrenceBrief;
use crate::store::series::SeriesFields;
pub(crate) use crate::store::series::SeriesRow;

mod edit;
pub(crate) mod plan;
mod routes;

use crate::{LiveError, LiveResult};
use plan::*;
pub use routes::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSeries {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Shown as the lecturer; default: the expert's name.
    pub lecturer: Option<String>,
    /// The expert who lectures (curators and admins); experts create series for themselves.
    pub expert_id: Option<UserId>,
    /// RFC 5545 subset, e.g. `FREQ=WEEKLY;BYDAY=TH;COUNT=10` (`UNTIL=20270131` also works).
    pub rrule: String,
    /// Dates without a lecture (`YYYY-MM-DD`, China time).
    #[serde(default)]
    pub exceptions: Vec<String>,
    /// The first lecture, e.g. `2026-12-03T19:30:00+08:00`.
    pub starts_at: Timestamp,
    pub duration_minutes: i32,
    pub capacity: i32,
    /// The audience: members of this organization and below; `null`: everyone (admins and
    /// province curators only).
    pub scope_org_id: Option<OrgId>,
    /// Share of the live time that counts as attended (0–1, default 0.5).
    pub attendance_threshold: Option<f64>,
    /// Child age stages the series is for (`prenatal`, `0-3` … `15-18`); its replay course
    /// gets them. Empty: every stage.
    #[serde(default)]
    pub age_stages: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesPatch {
    /// The version read; a stale one gets 409.
    pub version: i32,
    pub title: Option<String>,
    pub description: Option<String>,
    pub lecturer: Option<String>,
    pub rrule: Option<String>,
    pub exceptions: Option<Vec<String>>,
    pub starts_at: Option<Timestamp>,
    pub duration_minutes: Option<i32>,
    pub capacity: Option<i32>,
    pub attendance_threshold: Option<f64>,
    pub age_stages: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    pub id: SeriesId,
    pub title: String,
    pub description: String,
    pub lecturer: String,
    pub expert_id: UserId,
    pub rrule: String,
    pub exceptions: Vec<String>,
    pub starts_at: Timestamp,
    pub duration_minutes: i32,
    pub capacity: i32,
    pub scope_org_id: Option<OrgId>,
    pub attendance_threshold: f64,
    /// Empty: every stage.
    pub age_stages: Vec<String>,
    pub version: i32,
    pub occurrences: Vec<OccurrenceBrief>,
}

/// Checked age-stage codes, as JSON for the row.
fn stages_json(codes: &[String]) -> LiveResult<String> {
    let stages = platform::stages::parse_age_stages(codes).map_err(|m| LiveError::field("age_stages", m))?;
    let codes: Vec<&str> = stages.iter().map(|s| s.code()).collect();
    Ok(serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into()))
}

impl Schedule {
    async fn occurrences_of(&self, series: SeriesId) -> LiveResult<Vec<OccurrenceBrief>> {
        Ok(store::series::occurrences_of(&self.db, series).await?)
    }

    pub(crate) async fn series_view(&self, s: SeriesRow) -> LiveResult<SeriesView> {
        Ok(SeriesView {
            occurrences: self.occurrences_of(s.id).await?,
            id: s.id,
            title: s.title,
            description: s.description,
            lecturer: s.lecturer,
            expert_id: s.expert_id,
            rrule: s.rrule,
            exceptions: serde_json::from_str(&s.exceptions).unwrap_or_default(),
            starts_at: s.first_start,
            duration_minutes: s.duration_min,
            capacity: s.capacity,
            scope_org_id: s.scope_org_id,
            attendance_threshold: s.threshold,
            age_stages: serde_json::from_str(&s.age_stages).unwrap_or_default(),
            version: s.version,
        })
    }

    pub(crate) async fn create_series(&self, user: &AuthUser, req: NewSeries) -> LiveResult<SeriesView> {
        user.require_role(&[Role::Expert, Role::Curator, Role::Admin])?;
        let expert = match (user.role, req.expert_id) {
            (Role::Expert, None) => user.id,
            (Role::Expert, Some(id)) if id == user.id => user.id,
            (Role::Expert, Some(_)) => {
                return Err(LiveError::NotYourSeries);
            }
            (_, Some(id)) => id,
            (_, None) => {
                return Err(LiveError::field(
                    "expert_id",
                    msg("请选择主讲专家。", "Choose the expert who lectures."),
                ));
            }
        };
        let Some(expert_name) = platform::accounts::expert_name(&self.db, expert).await? else {
            return Err(LiveError::field(
                "expert_id",
                msg("主讲人必须是专家账号。", "expert_id must be an expert."),
            ));
        };
        let scope = Scope::load(&self.db, Some(user)).await?;
        self.audience.check_aim(&scope, req.scope_org_id).await?;
        let mut errors = Vec::new();
        let title = text("title", &req.title, 100, true).map_err(|e| errors.push(e)).ok();
        let description = text("description", &req.description, 2000, false)
            .map_err(|e| errors.push(e))
            .ok();
        let lecturer = text("lecturer", req.lecturer.as_deref().unwrap_or(&expert_name), 100, true)
            .map_err(|e| errors.push(e))
            .ok();
        let threshold = req.attendance_threshold.unwrap_or(0.5);
        errors.extend(check_numbers(req.capacity, threshold));
        let (Some(title), Some(description), Some(lecturer), true) = (title, description, lecturer, errors.is_empty())
        else {
            return Err(LiveError::Invalid(errors));
        };
        let plan = plan(&req.rrule, &req.exceptions, req.starts_at, req.duration_minutes)?;
        let stages = stages_json(&req.age_stages)?;
        let id = SeriesId::new();
        let now = self.clock.now();
        let fields = SeriesFields {
            title: &title,
            description: &description,
            lecturer: &lecturer,
            rrule: req.rrule.trim(),
            exceptions_json: serde_json::to_string(&plan.exceptions).unwrap_or_else(|_| "[]".into()),
            first_start: req.starts_at,
            duration_min: plan.duration_min,
            capacity: req.capacity,
            threshold,
            stages_json: &stages,
        };
        let starts: Vec<Timestamp> = plan
            .starts
            .iter()
            .map(|t| Timestamp::from_offset_date_time(*t))
            .collect();
        store::series::insert(&self.db, id, expert, user.id, &fields, req.scope_org_id, &starts, now).await?;
        self.series_view(self.audience.series_row(id).await?).await
    }
}
