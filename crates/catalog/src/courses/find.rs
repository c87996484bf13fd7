//! Listing and searching courses: filters, ranking and cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::auth::AuthUser;
use platform::error::msg;
use platform::http::Page;
use platform::scope::Scope;
use serde::Deserialize;

use super::*;
use crate::Catalog;
use crate::courses::store::{After, Filter};
use crate::search::{self, QueryError};
use crate::{CatalogError, CatalogResult};

/// `GET /api/v1/courses` parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CourseQuery {
    /// Search words (Chinese or other); results ranked, title matches first.
    pub q: Option<String>,
    /// Age stage code, or `mine`: the stages of the caller's children now (我的孩子).
    pub age_stage: Option<String>,
    /// Topic name.
    pub topic: Option<String>,
    pub year: Option<i32>,
    /// Only courses in this curated list.
    pub list: Option<ListId>,
    /// Only courses that may join this list: published, and seen by everyone who sees the list
    /// (the rule `PUT /lists/{id}/items` applies), so the list editor offers no course it would refuse.
    pub fits_list: Option<ListId>,
    /// draft, in_review, published or archived (editors see unpublished courses they may edit).
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
}

enum Cursor {
    Id(CourseId),
    Scored(i64, CourseId),
}

fn parse_cursor(s: &str) -> Option<Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    if let Some(id) = raw.strip_prefix('i') {
        return Some(Cursor::Id(id.parse().ok()?));
    }
    let (score, id) = raw.strip_prefix('s')?.split_once(':')?;
    Some(Cursor::Scored(score.parse().ok()?, id.parse().ok()?))
}

fn invalid_query(field: &str, m: platform::error::Msg) -> CatalogError {
    CatalogError::field(field, m)
}

impl Catalog {
    /// Lists or searches the courses `viewer` may see.
    pub async fn find_courses(&self, viewer: Option<&AuthUser>, q: &CourseQuery) -> CatalogResult<Page<CourseSummary>> {
        let limit = platform::http::PageQuery {
            cursor: None,
            limit: q.limit,
        }
        .limit()?;
        let search = match q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(search::parse_query(text).map_err(|e| match e {
                QueryError::TooLong => invalid_query(
                    "q",
                    msg(
                        format!("搜索词太长（最多 {} 个字）。", search::MAX_QUERY_CHARS),
                        format!(
                            "The query is too long (at most {} characters).",
                            search::MAX_QUERY_CHARS
                        ),
                    ),
                ),
                QueryError::NothingSearchable => invalid_query(
                    "q",
                    msg(
                        "搜索词需要包含文字或数字。",
                        "The query must contain letters or digits.",
                    ),
                ),
            })?),
        };
        let stages = match (q.age_stage.as_deref(), viewer) {
            (None | Some(""), _) => None,
            (Some("mine"), Some(user)) => {
                Some(platform::children::stages_of(&self.db, user.id, self.clock.now()).await?)
            }
            (Some("mine"), None) => {
                return Err(invalid_query(
                    "age_stage",
                    msg("登录后才能按“我的孩子”筛选。", "Sign in to filter by your children."),
                ));
            }
            (Some(code), _) => Some(parse_age_stages(&[code.to_owned()]).map_err(|m| invalid_query("age_stage", m))?),
        };
        let topic = match q.topic.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                if !self.topics().await?.iter().any(|k| k == t) {
                    return Err(invalid_query(
                        "topic",
                        msg(format!("未知的主题“{t}”。"), format!("Unknown topic {t:?}.")),
                    ));
                }
                Some(t.to_owned())
            }
        };
        let status = match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                invalid_query(
                    "status",
                    msg(
                        "状态只能是 draft、in_review、published 或 archived。",
                        "status must be draft, in_review, published or archived.",
                    ),
                )
            })?),
        };
        let cursor = match q.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => {
                Some(parse_cursor(c).ok_or_else(|| invalid_query("cursor", msg("分页游标无效。", "Invalid cursor.")))?)
            }
        };
        let fetch = i64::from(limit) + 1;
        let scope = Scope::load(&self.db, viewer).await?;
        let fits = match q.fits_list {
            Some(list) => Some(self.list_audience(viewer, list).await?),
            None => None,
        };

        let after = match (cursor, search.is_some()) {
            (Some(Cursor::Scored(score, id)), true) => Some(After::Scored(score, id)),
            (Some(Cursor::Id(id)), false) => Some(After::Id(id)),
            (None, _) => None,
            _ => return Err(invalid_query("cursor", msg("分页游标无效。", "Invalid cursor."))),
        };
        let filter = Filter {
            search: search.as_ref(),
            stages,
            topic: topic.as_deref(),
            year: q.year,
            list: q.list,
            fits,
            status,
            after,
        };
        let rows = self.find_rows(&filter, &scope, fetch).await?;
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let next_cursor = if more {
            rows.last().map(|(r, score)| {
                let raw = if search.is_some() {
                    format!("s{score}:{}", r.id)
                } else {
                    format!("i{}", r.id)
                };
                URL_SAFE_NO_PAD.encode(raw)
            })
        } else {
            None
        };
        Ok(Page {
            items: rows.iter().map(|(r, _)| r.summary()).collect(),
            next_cursor,
        })
    }
}
