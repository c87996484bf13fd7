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
    ApiRouter::new().routes(routes!(my_learning)).with_state(learning)
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
