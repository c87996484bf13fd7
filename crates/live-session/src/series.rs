//! Series (a weekly lecture run by one expert) and their occurrences, materialised at creation
//! from the recurrence rule; an edit re-expands the rule and touches future scheduled
//! occurrences only (same start: kept with its enrolments; gone: cancelled; new: created and
//! filled from whole-series enrolments).

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::AuthUser;
use platform::error::{ApiError, ApiResult, FieldError, msg};
use platform::http::{ApiRouter, Json, Path};
use platform::ids::{OrgId, UserId};
use platform::scope::Scope;
use platform::validate::Role;
use platform::{Timestamp, with_db};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::recurrence::{self, RuleError};
use crate::{Live, OccurrenceId, SeriesId};

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

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OccurrenceBrief {
    pub id: OccurrenceId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// scheduled, live, paused, ended or cancelled.
    pub state: String,
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SeriesRow {
    pub id: SeriesId,
    pub expert_id: UserId,
    pub title: String,
    pub description: String,
    pub lecturer: String,
    pub rrule: String,
    pub exceptions: String,
    pub first_start: Timestamp,
    pub duration_min: i32,
    pub capacity: i32,
    pub scope_org_id: Option<OrgId>,
    pub threshold: f64,
    pub version: i32,
    /// The series' replay course, once the first replay made it.
    pub replay_course_id: Option<uuid::Uuid>,
    /// JSON array of age-stage codes; `[]`: every stage.
    pub age_stages: String,
}

impl SeriesRow {
    pub(crate) fn stages(&self) -> Vec<String> {
        serde_json::from_str(&self.age_stages).unwrap_or_default()
    }
}

const SERIES_COLUMNS: &str = "id, expert_id, title, description, lecturer, rrule, exceptions, first_start, \
                              duration_min, capacity, scope_org_id, threshold, version, replay_course_id, age_stages";

/// Checked age-stage codes, as JSON for the row.
fn stages_json(codes: &[String]) -> ApiResult<String> {
    let stages = platform::stages::parse_age_stages(codes).map_err(|m| ApiError::invalid_field("age_stages", m))?;
    let codes: Vec<&str> = stages.iter().map(|s| s.code()).collect();
    Ok(serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into()))
}

pub(crate) fn series_not_found() -> ApiError {
    ApiError::not_found("series_not_found", msg("直播系列不存在。", "No such live series."))
}

fn rule_error(e: RuleError) -> ApiError {
    let m = match e {
        RuleError::Syntax(part) => msg(
            format!("重复规则无法识别（{part}）：请用每周重复，例如 FREQ=WEEKLY;BYDAY=TH;COUNT=10。"),
            format!("Unsupported recurrence ({part}); use e.g. FREQ=WEEKLY;BYDAY=TH;COUNT=10."),
        ),
        RuleError::NoEnd => msg(
            "重复规则需要 COUNT（次数）或 UNTIL（截止日期）。",
            "The rule needs COUNT or UNTIL.",
        ),
        RuleError::TooMany => msg(
            format!("一个系列最多 {} 次直播。", recurrence::MAX_OCCURRENCES),
            format!("A series has at most {} occurrences.", recurrence::MAX_OCCURRENCES),
        ),
        RuleError::Empty => msg("按这个规则没有任何一次直播。", "The rule yields no occurrence."),
        RuleError::Overlap => msg(
            "同一系列的两次直播时间重叠：请缩短时长或调整日期。",
            "Two occurrences of the series overlap.",
        ),
    };
    ApiError::validation(vec![FieldError {
        field: "rrule".into(),
        message: m,
    }])
}

/// The checked settings of a series (create and edit share them).
pub(crate) struct Plan {
    pub starts: Vec<OffsetDateTime>,
    pub exceptions: Vec<String>,
    pub duration_min: i32,
}

pub(crate) fn plan(rrule: &str, exceptions: &[String], start: Timestamp, duration_min: i32) -> ApiResult<Plan> {
    let mut errors = Vec::new();
    if !(10..=480).contains(&duration_min) {
        errors.push(FieldError {
            field: "duration_minutes".into(),
            message: msg("时长应在 10 到 480 分钟之间。", "Duration must be 10–480 minutes."),
        });
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut dates: Vec<Date> = Vec::new();
    for (i, e) in exceptions.iter().enumerate() {
        match Date::parse(e.trim(), &fmt) {
            Ok(d) => dates.push(d),
            Err(_) => errors.push(FieldError {
                field: format!("exceptions[{i}]"),
                message: msg(
                    format!("“{e}”不是日期，应为 2026-12-24 这样的格式。"),
                    format!("{e:?} is not a date such as 2026-12-24."),
                ),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let rule = recurrence::parse(rrule).map_err(rule_error)?;
    let starts = recurrence::expand(
        &rule,
        start.to_offset_date_time(),
        Duration::minutes(i64::from(duration_min)),
        &dates,
    )
    .map_err(rule_error)?;
    Ok(Plan {
        starts,
        exceptions: dates.iter().map(|d| d.format(&fmt).unwrap_or_default()).collect(),
        duration_min,
    })
}

fn ts(t: OffsetDateTime) -> Timestamp {
    Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(FieldError {
            field: field.into(),
            message: msg("不能为空。", "Must not be empty."),
        });
    }
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError {
            field: field.into(),
            message: msg(
                format!("最多 {max} 个字，且不能有控制字符。"),
                format!("At most {max} characters, no control characters."),
            ),
        });
    }
    Ok(v.to_owned())
}

fn check_numbers(capacity: i32, threshold: f64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !(1..=100_000).contains(&capacity) {
        errors.push(FieldError {
            field: "capacity".into(),
            message: msg("人数上限应在 1 到 100000 之间。", "Capacity must be 1–100000."),
        });
    }
    if !(threshold > 0.0 && threshold <= 1.0) {
        errors.push(FieldError {
            field: "attendance_threshold".into(),
            message: msg(
                "出勤比例应大于 0 且不超过 1（例如 0.5）。",
                "The threshold must be in (0, 1], e.g. 0.5.",
            ),
        });
    }
    errors
}

impl Live {
    pub(crate) async fn series_row(&self, id: SeriesId) -> ApiResult<SeriesRow> {
        let sql = format!("SELECT {SERIES_COLUMNS} FROM live_series WHERE id = $1");
        with_db!(&self.db, |pool| sqlx::query_as::<_, SeriesRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or_else(series_not_found)
    }

    /// Whether `user` manages the series: its expert, those who [manage](Scope::manages) its
    /// audience organization, and for an unscoped series those who publish to everyone.
    pub(crate) async fn manages(&self, user: &AuthUser, s: &SeriesRow) -> ApiResult<bool> {
        if user.role == Role::Expert {
            return Ok(s.expert_id == user.id);
        }
        let scope = Scope::load(&self.db, Some(user)).await?;
        Ok(match s.scope_org_id {
            Some(org) => scope.manages(&platform::orgs::org_path(&self.db, org).await?),
            None => scope.publishes_to_everyone(),
        })
    }

    /// Whether `user` belongs to the series' audience (an organization scope they
    /// [see](Scope::sees); `None`: everyone).
    pub(crate) async fn in_audience(&self, user: UserId, scope: Option<OrgId>) -> ApiResult<bool> {
        let Some(org) = scope else {
            return Ok(true);
        };
        let path = platform::orgs::org_path(&self.db, org).await?;
        Ok(Scope::load_member(&self.db, user).await?.sees(Some(&path)))
    }

    async fn occurrences_of(&self, series: SeriesId) -> ApiResult<Vec<OccurrenceBrief>> {
        Ok(with_db!(&self.db, |pool| sqlx::query_as::<_, OccurrenceBrief>(
            "SELECT id, starts_at, ends_at, state FROM live_occurrences WHERE series_id = $1 ORDER \
             BY starts_at",
        )
        .bind(series)
        .fetch_all(pool)
        .await)?)
    }

    async fn series_view(&self, s: SeriesRow) -> ApiResult<SeriesView> {
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

    async fn create_series(&self, user: &AuthUser, req: NewSeries) -> ApiResult<SeriesView> {
        user.require_role(&[Role::Expert, Role::Curator, Role::Admin])?;
        let expert = match (user.role, req.expert_id) {
            (Role::Expert, None) => user.id,
            (Role::Expert, Some(id)) if id == user.id => user.id,
            (Role::Expert, Some(_)) => {
                return Err(ApiError::forbidden(
                    "not_your_series",
                    msg(
                        "专家只能为自己创建直播系列。",
                        "Experts create series for themselves only.",
                    ),
                ));
            }
            (_, Some(id)) => id,
            (_, None) => {
                return Err(ApiError::invalid_field(
                    "expert_id",
                    msg("请选择主讲专家。", "Choose the expert who lectures."),
                ));
            }
        };
        let Some(expert_name) = platform::accounts::expert_name(&self.db, expert).await? else {
            return Err(ApiError::invalid_field(
                "expert_id",
                msg("主讲人必须是专家账号。", "expert_id must be an expert."),
            ));
        };
        // The audience must be within the creator's reach: experts aim at their organizations
        // and below, staff at what they manage, and only province staff at everyone.
        let scope = Scope::load(&self.db, Some(user)).await?;
        match req.scope_org_id {
            None if !scope.publishes_to_everyone() => {
                return Err(ApiError::invalid_field(
                    "scope_org_id",
                    msg(
                        "请选择面向的组织（面向所有人限省级工作人员）。",
                        "Choose the audience organization (everyone: province staff only).",
                    ),
                ));
            }
            None => {}
            Some(org) if user.role == Role::Expert => {
                let path = platform::orgs::org_path(&self.db, org).await?;
                scope.reaches(&path).then_some(()).ok_or_else(|| {
                    ApiError::forbidden(
                        "out_of_scope",
                        msg("只能面向你所在的组织及其下级。", "Only your organizations and below."),
                    )
                })?;
            }
            Some(org) => platform::orgs::require_scope(&self.db, user, org).await?,
        }
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
            return Err(ApiError::validation(errors));
        };
        let plan = plan(&req.rrule, &req.exceptions, req.starts_at, req.duration_minutes)?;
        let stages = stages_json(&req.age_stages)?;
        let id = SeriesId::new();
        let now = self.clock.now();
        let dur_ms = i64::from(plan.duration_min) * 60_000;
        with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO live_series (id, expert_id, created_by, title, description, lecturer, \
                 rrule, exceptions,
                   first_start, duration_min, capacity, scope_org_id, threshold, version, created_at, \
                 updated_at, \
                 age_stages)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14, $15)",
            )
            .bind(id)
            .bind(expert)
            .bind(user.id)
            .bind(&title)
            .bind(&description)
            .bind(&lecturer)
            .bind(req.rrule.trim())
            .bind(serde_json::to_string(&plan.exceptions).unwrap_or_else(|_| "[]".into()))
            .bind(req.starts_at)
            .bind(plan.duration_min)
            .bind(req.capacity)
            .bind(req.scope_org_id)
            .bind(threshold)
            .bind(now)
            .bind(&stages)
            .execute(&mut *tx)
            .await?;
            for start in &plan.starts {
                let at = ts(*start);
                sqlx::query(
                    "INSERT INTO live_occurrences (id, series_id, starts_at, ends_at, state, created_at, \
                     updated_at)
                     VALUES ($1, $2, $3, $4, 'scheduled', $5, $5)",
                )
                .bind(OccurrenceId::new())
                .bind(id)
                .bind(at)
                .bind(Timestamp(at.0 + dur_ms))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        self.series_view(self.series_row(id).await?).await
    }

    async fn edit_series(&self, user: &AuthUser, id: SeriesId, p: SeriesPatch) -> ApiResult<SeriesView> {
        let s = self.series_row(id).await?;
        if !self.manages(user, &s).await? {
            return Err(series_not_found());
        }
        if p.version != s.version {
            return Err(ApiError::conflict(
                "version_conflict",
                msg(
                    "系列已被他人修改，请刷新后再改。",
                    "The series changed meanwhile; reload.",
                ),
            ));
        }
        let mut errors = Vec::new();
        let mut field = |name: &str, new: Option<String>, old: String, max: usize, required: bool| match new {
            None => old,
            Some(v) => text(name, &v, max, required).unwrap_or_else(|e| {
                errors.push(e);
                old
            }),
        };
        let title = field("title", p.title, s.title.clone(), 100, true);
        let description = field("description", p.description, s.description.clone(), 2000, false);
        let lecturer = field("lecturer", p.lecturer, s.lecturer.clone(), 100, true);
        let capacity = p.capacity.unwrap_or(s.capacity);
        let threshold = p.attendance_threshold.unwrap_or(s.threshold);
        errors.extend(check_numbers(capacity, threshold));
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let rrule = p.rrule.unwrap_or_else(|| s.rrule.clone());
        let exceptions = p
            .exceptions
            .unwrap_or_else(|| serde_json::from_str(&s.exceptions).unwrap_or_default());
        let first = p.starts_at.unwrap_or(s.first_start);
        let plan = plan(&rrule, &exceptions, first, p.duration_minutes.unwrap_or(s.duration_min))?;
        let stages = match &p.age_stages {
            Some(codes) => stages_json(codes)?,
            None => s.age_stages.clone(),
        };
        let now = self.clock.now();
        let dur_ms = i64::from(plan.duration_min) * 60_000;
        let wanted: Vec<Timestamp> = plan.starts.iter().map(|t| ts(*t)).filter(|t| *t > now).collect();
        let existing = self.occurrences_of(id).await?;
        let dropped: Vec<OccurrenceId> = existing
            .iter()
            .filter(|o| o.state == "scheduled" && o.starts_at > now && !wanted.contains(&o.starts_at))
            .map(|o| o.id)
            .collect();
        let changed = with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE live_series SET title = $2, description = $3, lecturer = $4, rrule = $5, \
                 exceptions = $6,
                   first_start = $7, duration_min = $8, capacity = $9, threshold = $10, version = version \
                 + 1, \
                 updated_at = $11,
                   age_stages = $13
                 WHERE id = $1 AND version = $12",
            )
            .bind(id)
            .bind(&title)
            .bind(&description)
            .bind(&lecturer)
            .bind(rrule.trim())
            .bind(serde_json::to_string(&plan.exceptions).unwrap_or_else(|_| "[]".into()))
            .bind(first)
            .bind(plan.duration_min)
            .bind(capacity)
            .bind(threshold)
            .bind(now)
            .bind(p.version)
            .bind(&stages)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                // Future scheduled occurrences follow the new rule; the past and the live stay.
                for o in existing.iter().filter(|o| o.state == "scheduled" && o.starts_at > now) {
                    let keep = wanted.contains(&o.starts_at);
                    sqlx::query(
                        "UPDATE live_occurrences SET state = CASE WHEN $2 THEN 'scheduled' ELSE 'cancelled' END,
                           ends_at = starts_at + $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(o.id)
                    .bind(keep)
                    .bind(dur_ms)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                for at in wanted.iter().filter(|t| !existing.iter().any(|o| o.starts_at == **t)) {
                    sqlx::query(
                        "INSERT INTO live_occurrences (id, series_id, starts_at, ends_at, state, created_at, \
                         updated_at)
                         VALUES ($1, $2, $3, $4, 'scheduled', $5, $5)",
                    )
                    .bind(OccurrenceId::new())
                    .bind(id)
                    .bind(*at)
                    .bind(Timestamp(at.0 + dur_ms))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                // A cancelled future occurrence that the rule brings back is scheduled again.
                for o in existing
                    .iter()
                    .filter(|o| o.state == "cancelled" && wanted.contains(&o.starts_at))
                {
                    sqlx::query(
                        "UPDATE live_occurrences SET state = 'scheduled', ends_at = starts_at + $2, \
                         updated_at = $3 WHERE id = $1",
                    )
                    .bind(o.id)
                    .bind(dur_ms)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(n)
        })?;
        if changed == 0 {
            return Err(ApiError::conflict(
                "version_conflict",
                msg(
                    "系列已被他人修改，请刷新后再改。",
                    "The series changed meanwhile; reload.",
                ),
            ));
        }
        for occ in dropped {
            self.notify_cancelled(occ).await?;
        }
        // Whole-series enrolees join the new occurrences; a larger capacity promotes waitlists.
        self.fill_series(id).await?;
        self.series_view(self.series_row(id).await?).await
    }

    /// Stops a series: every future scheduled lecture is cancelled and those enrolled or
    /// waitlisted are told; past lectures, a live one, and their records stay.
    async fn stop_series(&self, user: &AuthUser, id: SeriesId) -> ApiResult<SeriesView> {
        let s = self.series_row(id).await?;
        if !self.manages(user, &s).await? {
            return Err(series_not_found());
        }
        let now = self.clock.now();
        let dropped: Vec<OccurrenceId> = with_db!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let ids: Vec<OccurrenceId> = sqlx::query_scalar(
                "UPDATE live_occurrences SET state = 'cancelled', updated_at = $3
                  WHERE series_id = $1 AND state = 'scheduled' AND starts_at > $2 RETURNING id",
            )
            .bind(id)
            .bind(now)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query("UPDATE live_series SET version = version + 1, updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids)
        })?;
        for occ in dropped {
            self.notify_cancelled(occ).await?;
        }
        self.series_view(self.series_row(id).await?).await
    }
}

pub(crate) fn router() -> ApiRouter<Live> {
    ApiRouter::new()
        .routes(routes!(create_series))
        .routes(routes!(get_series, patch_series, stop_series))
}

/// Create a weekly series; its occurrences are created at once.
#[utoipa::path(post, path = "/api/v1/live/series", tag = "live", request_body = NewSeries,
    responses((status = 201, body = SeriesView), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn create_series(
    State(live): State<Live>,
    auth: AuthUser,
    Json(req): Json<NewSeries>,
) -> ApiResult<(StatusCode, Json<SeriesView>)> {
    Ok((StatusCode::CREATED, Json(live.create_series(&auth, req).await?)))
}

/// A series with all its occurrences (anyone in its audience, and those who manage it).
#[utoipa::path(get, path = "/api/v1/live/series/{id}", tag = "live", params(("id" = SeriesId, Path)),
    responses((status = 200, body = SeriesView), (status = 404)), security(("bearer" = [])))]
async fn get_series(State(live): State<Live>, auth: AuthUser, Path(id): Path<SeriesId>) -> ApiResult<Json<SeriesView>> {
    let s = live.series_row(id).await?;
    if !live.manages(&auth, &s).await? && !live.in_audience(auth.id, s.scope_org_id).await? {
        return Err(series_not_found());
    }
    Ok(Json(live.series_view(s).await?))
}

/// Stops the series: its future scheduled lectures are cancelled and their enrolled and
/// waitlisted parents told; past lectures and their records stay.
#[utoipa::path(delete, path = "/api/v1/live/series/{id}", tag = "live",
    params(("id" = SeriesId, Path)),
    responses((status = 200, body = SeriesView), (status = 404)), security(("bearer" = [])))]
async fn stop_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
) -> ApiResult<Json<SeriesView>> {
    Ok(Json(live.stop_series(&auth, id).await?))
}

/// Edit a series: future scheduled occurrences follow; past, live and ended ones stay.
#[utoipa::path(patch, path = "/api/v1/live/series/{id}", tag = "live", params(("id" = SeriesId, Path)),
    request_body = SeriesPatch,
    responses((status = 200, body = SeriesView), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn patch_series(
    State(live): State<Live>,
    auth: AuthUser,
    Path(id): Path<SeriesId>,
    Json(p): Json<SeriesPatch>,
) -> ApiResult<Json<SeriesView>> {
    Ok(Json(live.edit_series(&auth, id, p).await?))
}
