//! "My learning" (我的学习): a parent's study time per course and per term, composed here from
//! media (played ranges and the credit log) and the catalog (which lessons use which assets),
//! since neither domain crate may depend on the other.

use std::collections::BTreeMap;

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json};
use serde::Serialize;
use time::{Date, Month, OffsetDateTime, UtcOffset};
use utoipa::ToSchema;
use utoipa_axum::routes;

#[derive(Clone)]
pub(crate) struct Learning {
    pub catalog: catalog::Catalog,
    pub media: media::Media,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Term {
    pub name: String,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Study time credited within the term.
    pub credited_s: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonLearning {
    pub lesson_id: catalog::LessonId,
    pub title: String,
    pub asset_id: String,
    pub watched_s: f64,
    pub duration_s: f64,
    pub completed: bool,
    pub position_s: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseLearning {
    pub course_id: catalog::CourseId,
    pub title: String,
    pub watched_s: f64,
    pub lessons_completed: usize,
    pub lessons: Vec<LessonLearning>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyLearning {
    /// All credited study time.
    pub total_s: f64,
    pub current_term: Term,
    pub previous_term: Term,
    pub courses: Vec<CourseLearning>,
}

/// School semesters in China time: spring from 1 February, autumn from 1 August; the term
/// containing `now` and the one before it.
pub fn semesters(now: OffsetDateTime) -> [(String, OffsetDateTime, OffsetDateTime); 2] {
    let china = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let local = now.to_offset(china);
    let at = |y: i32, m: Month| {
        Date::from_calendar_date(y, m, 1)
            .map(|d| d.midnight().assume_offset(china))
            .unwrap_or(now)
    };
    let y = local.year();
    let (cur, prev) = match local.month() {
        Month::January => ((y - 1, false), (y - 1, true)),
        Month::February | Month::March | Month::April | Month::May | Month::June | Month::July => {
            ((y, true), (y - 1, false))
        }
        _ => ((y, false), (y, true)),
    };
    let term = |(year, spring): (i32, bool)| {
        if spring {
            (
                format!("{year} 年春季学期"),
                at(year, Month::February),
                at(year, Month::August),
            )
        } else {
            (
                format!("{year} 年秋季学期"),
                at(year, Month::August),
                at(year + 1, Month::February),
            )
        }
    };
    [term(cur), term(prev)]
}

fn ts(t: OffsetDateTime) -> Timestamp {
    Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub(crate) fn router(learning: Learning) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(my_learning))
        .routes(routes!(org_learning))
        .with_state(learning)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct OrgLearningQuery {
    /// Start of the period (RFC 3339); default: the current semester.
    pub from: Option<Timestamp>,
    /// End of the period (RFC 3339, exclusive).
    pub to: Option<Timestamp>,
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberLearning {
    pub user_id: platform::ids::UserId,
    pub display_name: String,
    /// Masked, e.g. 138****5678.
    pub phone: String,
    pub org_id: platform::ids::OrgId,
    pub org_name: String,
    pub credited_s: f64,
    pub lessons_completed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgLearning {
    pub from: Timestamp,
    pub to: Timestamp,
    pub items: Vec<MemberLearning>,
    pub next_cursor: Option<String>,
}

/// Study time of the members of an organization subtree in a period (curators in scope).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/learning", tag = "organizations",
    params(("id" = platform::ids::OrgId, Path), OrgLearningQuery),
    responses((status = 200, body = OrgLearning), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn org_learning(
    State(l): State<Learning>,
    auth: AuthUser,
    platform::http::Path(id): platform::http::Path<platform::ids::OrgId>,
    platform::http::Query(q): platform::http::Query<OrgLearningQuery>,
) -> ApiResult<Json<OrgLearning>> {
    let db = l.media.db();
    platform::orgs::require_scope(db, &auth, id).await?;
    let limit = platform::http::PageQuery {
        cursor: None,
        limit: q.limit,
    }
    .limit()?;
    let [cur, _] = semesters(OffsetDateTime::now_utc());
    let (from, to) = (q.from.unwrap_or(ts(cur.1)), q.to.unwrap_or(ts(cur.2)));
    if to <= from {
        return Err(platform::ApiError::invalid_field(
            "to",
            platform::error::msg("结束时间必须晚于开始时间。", "to must be after from."),
        ));
    }
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse().map_err(|_| {
            platform::ApiError::invalid_field("cursor", platform::error::msg("分页游标无效。", "Invalid cursor."))
        })?),
    };
    let mut members = platform::orgs::subtree_members(db, id, after, i64::from(limit) + 1).await?;
    let more = members.len() > limit as usize;
    members.truncate(limit as usize);
    let ids: Vec<platform::ids::UserId> = members.iter().map(|m| m.user_id).collect();
    let totals = l.media.totals_for(&ids, from, to).await?;
    let next_cursor = if more {
        members.last().map(|m| m.user_id.to_string())
    } else {
        None
    };
    let items = members
        .into_iter()
        .map(|m| {
            let (ms, done) = totals.get(&m.user_id).copied().unwrap_or((0, 0));
            MemberLearning {
                user_id: m.user_id,
                display_name: m.display_name,
                phone: m
                    .phone
                    .as_deref()
                    .and_then(|p| platform::validate::PhoneNumber::parse(p).ok())
                    .map(|p| p.masked())
                    .unwrap_or_default(),
                org_id: m.org_id,
                org_name: m.org_name,
                credited_s: ms as f64 / 1000.0,
                lessons_completed: done,
            }
        })
        .collect();
    Ok(Json(OrgLearning {
        from,
        to,
        items,
        next_cursor,
    }))
}

/// The caller's study time: per course and lesson, this term, the last term and in total.
#[utoipa::path(get, path = "/api/v1/me/learning", tag = "me", responses((status = 200, body = MyLearning)), security(("bearer" = [])))]
async fn my_learning(State(l): State<Learning>, auth: AuthUser) -> ApiResult<Json<MyLearning>> {
    let progress = l.media.progress_of(auth.id).await?;
    let ids: Vec<String> = progress.iter().map(|p| p.asset_id.to_string()).collect();
    let lessons = l.catalog.lessons_for_assets(&ids).await?;
    let by_asset: BTreeMap<String, &media::progress::AssetProgress> =
        progress.iter().map(|p| (p.asset_id.to_string(), p)).collect();
    let mut courses: Vec<CourseLearning> = Vec::new();
    for lesson in &lessons {
        let Some(p) = by_asset.get(&lesson.asset_id) else {
            continue;
        };
        let entry = match courses.iter_mut().position(|c| c.course_id == lesson.course_id) {
            Some(i) => &mut courses[i],
            None => {
                courses.push(CourseLearning {
                    course_id: lesson.course_id,
                    title: lesson.course_title.clone(),
                    watched_s: 0.0,
                    lessons_completed: 0,
                    lessons: Vec::new(),
                });
                let last = courses.len() - 1;
                &mut courses[last]
            }
        };
        let completed = p.completed_at.is_some();
        entry.watched_s += p.watched_ms as f64 / 1000.0;
        entry.lessons_completed += usize::from(completed);
        entry.lessons.push(LessonLearning {
            lesson_id: lesson.lesson_id,
            title: lesson.lesson_title.clone(),
            asset_id: lesson.asset_id.clone(),
            watched_s: p.watched_ms as f64 / 1000.0,
            duration_s: p.duration_ms.unwrap_or(0) as f64 / 1000.0,
            completed,
            position_s: p.position_ms as f64 / 1000.0,
        });
    }
    let now = OffsetDateTime::now_utc();
    let [cur, prev] = semesters(now);
    let term = |(name, from, to): (String, OffsetDateTime, OffsetDateTime)| {
        let media = l.media.clone();
        async move {
            let ms = media.credited_between(auth.id, ts(from), ts(to)).await?;
            ApiResult::Ok(Term {
                name,
                from: ts(from),
                to: ts(to),
                credited_s: ms as f64 / 1000.0,
            })
        }
    };
    let total = l
        .media
        .credited_between(auth.id, Timestamp(0), Timestamp(i64::MAX))
        .await?;
    Ok(Json(MyLearning {
        total_s: total as f64 / 1000.0,
        current_term: term(cur).await?,
        previous_term: term(prev).await?,
        courses,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semesters_follow_the_school_year() {
        let t = |s: &str| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        };
        let [cur, prev] = semesters(t("2026-11-29T12:00:00+08:00"));
        assert_eq!(cur.0, "2026 年秋季学期");
        assert_eq!(prev.0, "2026 年春季学期");
        let [cur, prev] = semesters(t("2027-01-15T12:00:00+08:00"));
        assert_eq!(cur.0, "2026 年秋季学期");
        assert_eq!(prev.0, "2026 年春季学期");
        let [cur, prev] = semesters(t("2027-03-01T12:00:00+08:00"));
        assert_eq!(cur.0, "2027 年春季学期");
        assert_eq!(prev.0, "2026 年秋季学期");
        // 1 February 00:30 in Beijing is still 31 January in UTC, but already spring.
        let [cur, _] = semesters(t("2027-02-01T00:30:00+08:00"));
        assert_eq!(cur.0, "2027 年春季学期");
    }
}
