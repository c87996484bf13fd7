//! 家长学习档案: a parent's learning record by school year (学年, from August) and term (秋季学期
//! August–January, 春季学期 February–July) and in total, with every item behind it: recorded
//! lessons (per lesson and day, from the credit log), live lectures (from the live credit log)
//! and offline activities (from check-ins), each with its date, source and credited time. The
//! record belongs to the account, not to a school: it stays when memberships change. JSON for
//! the page (and its print view), CSV for Excel.

use std::collections::BTreeMap;

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::clock::CHINA;
use platform::error::ApiResult;
use platform::http::{ApiRouter, Json, Query};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::learning::Learning;

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Totals {
    pub lessons_s: f64,
    pub live_s: f64,
    pub offline_s: f64,
    pub total_s: f64,
}

impl Totals {
    fn add(&mut self, kind: Kind, s: f64) {
        match kind {
            Kind::Lesson => self.lessons_s += s,
            Kind::Live => self.live_s += s,
            Kind::Offline => self.offline_s += s,
        }
        self.total_s += s;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lesson,
    Live,
    Offline,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Lesson => "录播课程",
            Self::Live => "直播讲座",
            Self::Offline => "线下活动",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordItem {
    pub date: Timestamp,
    pub kind: Kind,
    pub kind_label: &'static str,
    pub title: String,
    /// Where it came from: the course, the lecture, the activity's kind and place.
    pub source: String,
    pub credited_s: f64,
    /// The school year (its August) and the term it counts in.
    pub school_year: i32,
    pub term: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordTerm {
    pub name: String,
    pub totals: Totals,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordYear {
    /// The year its August falls in.
    pub school_year: i32,
    pub name: String,
    pub totals: Totals,
    pub terms: Vec<RecordTerm>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LearningRecord {
    pub display_name: String,
    pub generated_at: Timestamp,
    /// The school year asked for (`null`: all).
    pub school_year: Option<i32>,
    pub total: Totals,
    pub years: Vec<RecordYear>,
    /// Every item, oldest first.
    pub items: Vec<RecordItem>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RecordQuery {
    /// Only this school year (the year of its August, e.g. 2026 for 2026–2027).
    pub year: Option<i32>,
}

/// The school year and term a moment counts in (China time).
fn school_term(t: Timestamp) -> (i32, String) {
    let [(name, from, _), _] = platform::terms::semesters(t.to_offset_date_time());
    let start = from.to_offset(CHINA);
    // A school year is named after the autumn it begins in.
    match start.month() {
        time::Month::August => (start.year(), name),
        _ => (start.year() - 1, name),
    }
}

pub(crate) fn router(learning: Learning) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(my_record))
        .routes(routes!(my_record_csv))
        .with_state(learning)
}

impl Learning {
    async fn record(&self, user: &AuthUser, year: Option<i32>) -> ApiResult<LearningRecord> {
        let mut items: Vec<RecordItem> = Vec::new();
        let mut push = |date: Timestamp, kind: Kind, title: String, source: String, ms: i64| {
            let (school_year, term) = school_term(date);
            if ms > 0 && year.is_none_or(|y| y == school_year) {
                items.push(RecordItem {
                    date,
                    kind,
                    kind_label: kind.label(),
                    title,
                    source,
                    credited_s: ms as f64 / 1000.0,
                    school_year,
                    term,
                });
            }
        };
        let days = self.media.credit_days(user.id).await?;
        let ids: Vec<String> = days.iter().map(|(a, _, _)| a.to_string()).collect();
        let lessons = self.catalog.lessons_for_assets(&ids).await?;
        for (asset, day, ms) in days {
            let lesson = lessons.iter().find(|l| l.asset_id == asset.to_string());
            let (title, source) = match lesson {
                Some(l) => (l.lesson_title.clone(), format!("课程《{}》", l.course_title)),
                None => ("录播视频".to_owned(), "已下架的课程".to_owned()),
            };
            push(day, Kind::Lesson, title, source, ms);
        }
        for o in self.live.attendance().user_credits(user.id).await? {
            push(o.starts_at, Kind::Live, o.title, "直播讲座".to_owned(), o.attended_ms);
        }
        for a in self.live.offline().user_credits(user.id).await? {
            push(
                a.starts_at,
                Kind::Offline,
                a.title,
                format!("{} · {}", a.kind_label, a.place),
                a.credited_ms,
            );
        }
        items.sort_by_key(|i| i.date);
        let mut total = Totals::default();
        let mut years: BTreeMap<i32, (Totals, Vec<RecordTerm>)> = BTreeMap::new();
        for i in &items {
            total.add(i.kind, i.credited_s);
            let (t, terms) = years.entry(i.school_year).or_default();
            t.add(i.kind, i.credited_s);
            match terms.iter_mut().find(|x| x.name == i.term) {
                Some(x) => x.totals.add(i.kind, i.credited_s),
                None => {
                    let mut totals = Totals::default();
                    totals.add(i.kind, i.credited_s);
                    terms.push(RecordTerm {
                        name: i.term.clone(),
                        totals,
                    });
                }
            }
        }
        let me = platform::accounts::display_name(self.media.db(), user.id).await?;
        Ok(LearningRecord {
            display_name: me,
            generated_at: Timestamp::from_offset_date_time(OffsetDateTime::now_utc()),
            school_year: year,
            total,
            years: years
                .into_iter()
                .rev()
                .map(|(y, (totals, terms))| RecordYear {
                    school_year: y,
                    name: format!("{y}–{} 学年", y + 1),
                    totals,
                    terms,
                })
                .collect(),
            items,
        })
    }
}

/// 家长学习档案: the caller's record by school year and term, with every item behind it.
#[utoipa::path(get, path = "/api/v1/me/record", tag = "me", params(RecordQuery),
    responses((status = 200, body = LearningRecord)), security(("bearer" = [])))]
async fn my_record(
    State(l): State<Learning>,
    auth: AuthUser,
    Query(q): Query<RecordQuery>,
) -> ApiResult<Json<LearningRecord>> {
    Ok(Json(l.record(&auth, q.year).await?))
}

/// The record as a CSV file for Excel (UTF-8 with BOM): one row per item, then the totals.
#[utoipa::path(get, path = "/api/v1/me/record.csv", tag = "me", params(RecordQuery),
    responses((status = 200, content_type = "text/csv", body = String)), security(("bearer" = [])))]
async fn my_record_csv(
    State(l): State<Learning>,
    auth: AuthUser,
    Query(q): Query<RecordQuery>,
) -> ApiResult<axum::response::Response> {
    let r = l.record(&auth, q.year).await?;
    let day = |t: Timestamp| t.to_offset_date_time().to_offset(CHINA).date().to_string();
    let minutes = |s: f64| format!("{:.1}", s / 60.0);
    let mut rows: Vec<Vec<String>> = r
        .items
        .iter()
        .map(|i| {
            vec![
                day(i.date),
                i.term.clone(),
                i.kind_label.to_owned(),
                i.title.clone(),
                i.source.clone(),
                minutes(i.credited_s),
            ]
        })
        .collect();
    for (label, t) in [
        ("合计：录播课程", r.total.lessons_s),
        ("合计：直播讲座", r.total.live_s),
        ("合计：线下活动", r.total.offline_s),
        ("合计", r.total.total_s),
    ] {
        rows.push(vec![
            String::new(),
            String::new(),
            label.to_owned(),
            String::new(),
            String::new(),
            minutes(t),
        ]);
    }
    Ok(platform::http::csv_download(
        "家长学习档案.csv",
        &["日期", "学期", "类别", "内容", "来源", "学时（分钟）"],
        &rows,
    ))
}
