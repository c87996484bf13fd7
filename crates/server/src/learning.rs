//! "My learning" (我的学习): a parent's study time per course and per term, composed here from
//! media (played ranges and the credit log), the catalog (which lessons use which assets) and
//! live sessions (live lectures' credit log, offline activities' check-ins), since no domain
//! crate may depend on the others; and the organizations' reports of the same three.

use std::collections::BTreeMap;

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json};
use platform::terms::terms_at;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::routes;

#[derive(Clone)]
pub(crate) struct Learning {
    pub catalog: catalog::Catalog,
    pub media: media::Media,
    pub live: live_session::Live,
    /// Configured terms (checked at start-up); empty means the school semesters.
    pub terms: std::sync::Arc<Vec<platform::terms::Period>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Term {
    pub name: String,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Study time credited within the term: recorded lessons, live lectures and offline
    /// activities.
    pub credited_s: f64,
    /// Of which live lectures.
    pub live_s: f64,
    /// Of which offline activities (those that started in the term).
    pub offline_s: f64,
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
    /// All the course's lessons, watched or not (`lessons` lists the watched ones).
    pub lesson_count: usize,
    /// The quizzes the course requires passing (完成课程须通过) that the caller has not passed.
    pub quizzes_to_pass: usize,
    pub lessons: Vec<LessonLearning>,
}

/// 继续学习: the lesson last watched and not yet completed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResumeLesson {
    pub course_id: catalog::CourseId,
    pub course_title: String,
    pub lesson_id: catalog::LessonId,
    pub lesson_title: String,
    pub position_s: f64,
    pub duration_s: f64,
    pub watched_s: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyLearning {
    /// All credited study time: recorded lessons, live lectures and offline activities.
    pub total_s: f64,
    /// Of which live lectures.
    pub live_s: f64,
    /// Of which offline activities.
    pub offline_s: f64,
    /// Live lectures attended, oldest first.
    pub live: Vec<live_session::AttendedOccurrence>,
    /// Offline activities attended (checked in, and out where asked), oldest first.
    pub offline: Vec<live_session::AttendedActivity>,
    pub current_term: Term,
    pub previous_term: Term,
    /// Courses studied, the most recently watched first.
    pub courses: Vec<CourseLearning>,
    /// The lesson to continue with, if any is unfinished.
    pub resume: Option<ResumeLesson>,
}

pub(crate) fn router(learning: Learning) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(my_learning))
        .routes(routes!(org_learning))
        .routes(routes!(org_learning_csv))
        .with_state(learning)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct OrgLearningQuery {
    /// Start of the period (RFC 3339); default: the current term.
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
    /// Recorded lessons.
    pub credited_s: f64,
    /// Live lectures (occurrences that started in the period).
    pub live_s: f64,
    /// Offline activities (that started in the period).
    pub offline_s: f64,
    pub lessons_completed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgLearning {
    pub from: Timestamp,
    pub to: Timestamp,
    pub items: Vec<MemberLearning>,
    pub next_cursor: Option<String>,
}

impl Learning {
    /// The period of a report: the query's, or the current term.
    fn period(&self, q: &OrgLearningQuery) -> ApiResult<(Timestamp, Timestamp)> {
        let [cur, _] = terms_at(OffsetDateTime::now_utc(), &self.terms);
        let (from, to) = (
            q.from.unwrap_or(Timestamp::from_offset_date_time(cur.1)),
            q.to.unwrap_or(Timestamp::from_offset_date_time(cur.2)),
        );
        if to <= from {
            return Err(platform::ApiError::invalid_field(
                "to",
                platform::error::msg("结束时间必须晚于开始时间。", "to must be after from."),
            ));
        }
        Ok((from, to))
    }

    /// One page of an organization subtree's members with their study time in the period.
    async fn members_page(
        &self,
        org: platform::ids::OrgId,
        (from, to): (Timestamp, Timestamp),
        after: Option<platform::ids::UserId>,
        limit: u32,
    ) -> ApiResult<(Vec<MemberLearning>, Option<platform::ids::UserId>)> {
        let db = self.media.db();
        let mut members = platform::orgs::subtree_members(db, org, after, i64::from(limit) + 1).await?;
        let more = members.len() > limit as usize;
        members.truncate(limit as usize);
        let ids: Vec<platform::ids::UserId> = members.iter().map(|m| m.user_id).collect();
        let totals = self.media.totals_for(&ids, from, to).await?;
        let live = self.live.attendance().totals_for(&ids, from, to).await?;
        let offline = self.live.offline().totals_for(&ids, from, to).await?;
        let next = if more { members.last().map(|m| m.user_id) } else { None };
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
                    live_s: live.get(&m.user_id).copied().unwrap_or(0) as f64 / 1000.0,
                    offline_s: offline.get(&m.user_id).copied().unwrap_or(0) as f64 / 1000.0,
                    lessons_completed: done,
                }
            })
            .collect();
        Ok((items, next))
    }
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
    platform::orgs::require_scope(l.media.db(), &auth, id).await?;
    let limit = platform::http::PageQuery {
        cursor: None,
        limit: q.limit,
    }
    .limit()?;
    let (from, to) = l.period(&q)?;
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse().map_err(|_| {
            platform::ApiError::invalid_field("cursor", platform::error::msg("分页游标无效。", "Invalid cursor."))
        })?),
    };
    let (items, next) = l.members_page(id, (from, to), after, limit).await?;
    Ok(Json(OrgLearning {
        from,
        to,
        items,
        next_cursor: next.map(|u| u.to_string()),
    }))
}

/// The same report as a CSV file for Excel (UTF-8 with BOM, masked phone numbers), every member.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/learning.csv", tag = "organizations",
    params(("id" = platform::ids::OrgId, Path), OrgLearningQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403), (status = 422)),
    security(("bearer" = [])))]
async fn org_learning_csv(
    State(l): State<Learning>,
    auth: AuthUser,
    platform::http::Path(id): platform::http::Path<platform::ids::OrgId>,
    platform::http::Query(q): platform::http::Query<OrgLearningQuery>,
) -> ApiResult<axum::response::Response> {
    platform::orgs::require_scope(l.media.db(), &auth, id).await?;
    let period = l.period(&q)?;
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let (items, next) = l.members_page(id, period, after, 500).await?;
        rows.extend(items.into_iter().map(|m| {
            vec![
                m.display_name,
                m.phone,
                m.org_name,
                format!("{:.1}", m.credited_s / 60.0),
                format!("{:.1}", m.live_s / 60.0),
                format!("{:.1}", m.offline_s / 60.0),
                m.lessons_completed.to_string(),
            ]
        }));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(platform::http::csv_download(
        "学习时长报表.csv",
        &[
            "姓名",
            "手机号",
            "所在组织",
            "课程学习（分钟）",
            "直播学习（分钟）",
            "线下活动（分钟）",
            "完成课时",
        ],
        &rows,
    ))
}

/// The caller's study time: per course and lesson, live lectures, this term, the last term and
/// in total.
#[utoipa::path(get, path = "/api/v1/me/learning", tag = "me", responses((status = 200, body = MyLearning)), security(("bearer" = [])))]
async fn my_learning(State(l): State<Learning>, auth: AuthUser) -> ApiResult<Json<MyLearning>> {
    let progress = l.media.progress_of(auth.id).await?;
    let places = l.media.places_of(auth.id).await?;
    let ids: Vec<String> = progress.iter().map(|p| p.asset_id.to_string()).collect();
    let mut lessons = l.catalog.lessons_for_assets(&ids).await?;
    let by_asset: BTreeMap<String, &media::progress::AssetProgress> =
        progress.iter().map(|p| (p.asset_id.to_string(), p)).collect();
    // One video may serve several courses: it counts in the lessons it was watched in. An asset
    // watched with no lesson recorded (before lessons were recorded, or outside a course page)
    // counts in every lesson that uses it, as it did before.
    let recency = |lesson: &catalog::LessonRef| {
        places
            .iter()
            .position(|w| w.lesson_id == lesson.lesson_id.0 && w.asset_id.to_string() == lesson.asset_id)
    };
    lessons.retain(|lesson| {
        recency(lesson).is_some() || !places.iter().any(|w| w.asset_id.to_string() == lesson.asset_id)
    });
    // The most recently watched first; lessons without a recorded place after them.
    lessons.sort_by_key(|lesson| recency(lesson).unwrap_or(usize::MAX));
    let mut courses: Vec<CourseLearning> = Vec::new();
    let mut resume = None;
    for lesson in &lessons {
        let Some(p) = by_asset.get(&lesson.asset_id) else {
            continue;
        };
        let completed = p.completed_at.is_some();
        if resume.is_none() && !completed && recency(lesson).is_some() {
            resume = Some(ResumeLesson {
                course_id: lesson.course_id,
                course_title: lesson.course_title.clone(),
                lesson_id: lesson.lesson_id,
                lesson_title: lesson.lesson_title.clone(),
                position_s: p.position_ms as f64 / 1000.0,
                duration_s: p.duration_ms.unwrap_or(0) as f64 / 1000.0,
                watched_s: p.watched_ms as f64 / 1000.0,
            });
        }
        let entry = match courses.iter_mut().position(|c| c.course_id == lesson.course_id) {
            Some(i) => &mut courses[i],
            None => {
                courses.push(CourseLearning {
                    course_id: lesson.course_id,
                    title: lesson.course_title.clone(),
                    watched_s: 0.0,
                    lessons_completed: 0,
                    lesson_count: usize::try_from(lesson.course_lesson_count).unwrap_or(0),
                    quizzes_to_pass: 0,
                    lessons: Vec::new(),
                });
                let last = courses.len() - 1;
                &mut courses[last]
            }
        };
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
    // A course is not done while a quiz it requires is not passed: say how many are left.
    let ids: Vec<catalog::CourseId> = courses.iter().map(|c| c.course_id).collect();
    let required: Vec<(catalog::CourseId, catalog::LessonId)> = l
        .catalog
        .quiz_lessons(&ids)
        .await?
        .into_iter()
        .filter(|q| q.2)
        .map(|q| (q.0, q.1))
        .collect();
    let quiz_lessons: Vec<catalog::LessonId> = required.iter().map(|q| q.1).collect();
    let passed = l.catalog.passed_lessons(auth.id, &quiz_lessons).await?;
    for c in &mut courses {
        c.quizzes_to_pass = required
            .iter()
            .filter(|q| q.0 == c.course_id && !passed.contains(&q.1))
            .count();
    }
    let now = OffsetDateTime::now_utc();
    let [cur, prev] = terms_at(now, &l.terms);
    let attendance = l.live.attendance();
    let live = attendance.user_credits(auth.id).await?;
    let offline = l.live.offline();
    let term = |(name, from, to): (String, OffsetDateTime, OffsetDateTime)| {
        let media = l.media.clone();
        let attendance = attendance.clone();
        let offline = offline.clone();
        let (from, to) = (
            Timestamp::from_offset_date_time(from),
            Timestamp::from_offset_date_time(to),
        );
        async move {
            let ms = media.credited_between(auth.id, from, to).await?;
            let live_ms = attendance.credited_between(auth.id, from, to).await?;
            let offline_ms = offline.credited_between(auth.id, from, to).await?;
            ApiResult::Ok(Term {
                name,
                from,
                to,
                credited_s: (ms + live_ms + offline_ms) as f64 / 1000.0,
                live_s: live_ms as f64 / 1000.0,
                offline_s: offline_ms as f64 / 1000.0,
            })
        }
    };
    let total = l
        .media
        .credited_between(auth.id, Timestamp(0), Timestamp(i64::MAX))
        .await?;
    let live_total = attendance
        .credited_between(auth.id, Timestamp(0), Timestamp(i64::MAX))
        .await?;
    let attended = offline.user_credits(auth.id).await?;
    let offline_total: i64 = attended.iter().map(|a| a.credited_ms).sum();
    Ok(Json(MyLearning {
        total_s: (total + live_total + offline_total) as f64 / 1000.0,
        live_s: live_total as f64 / 1000.0,
        offline_s: offline_total as f64 / 1000.0,
        offline: attended,
        current_term: term(cur).await?,
        previous_term: term(prev).await?,
        courses,
        live,
        resume,
    }))
}
