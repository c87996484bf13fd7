//! 评价: after studying a course (watching any of its lessons) or taking part in a live lecture
//! or an offline activity (study time credited, or a check-in), a person may rate it 1–5 stars
//! with an optional comment of up to 300 characters, once; rating again changes it. Comments
//! pass the live messages' filters (contacts, the word list). Its expert and the staff in scope
//! see the average, the spread and the comments, the raters' names masked. `check` is the pure
//! rule, `store` holds the queries, `routes` the handlers.

mod routes;
mod store;

use catalog::CourseId;
use live_session::OccurrenceId;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{FieldError, msg};
use platform::http::{Page, PageQuery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) use routes::router;
pub(crate) use store::erase;

use crate::{Evaluation, EvaluationError, EvaluationResult};

/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 300;

/// What is rated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Course(CourseId),
    /// A live lecture or an offline activity.
    Occurrence(OccurrenceId),
}

impl Target {
    fn kind(self) -> &'static str {
        match self {
            Self::Course(_) => "course",
            Self::Occurrence(_) => "occurrence",
        }
    }

    fn id(self) -> uuid::Uuid {
        match self {
            Self::Course(c) => c.0,
            Self::Occurrence(o) => o.0,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    /// 1–5.
    pub stars: u8,
    /// Optional, up to 300 characters.
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatingView {
    pub stars: u8,
    /// After the filters.
    pub comment: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The caller's own rating, and whether they may rate (they studied it).
#[derive(Debug, Serialize, ToSchema)]
pub struct MyRating {
    pub may_rate: bool,
    pub rating: Option<RatingView>,
}

/// One rating as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingItem {
    /// Masked (张**).
    pub rater: String,
    pub stars: u8,
    pub comment: String,
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ratings {
    pub title: String,
    pub count: i64,
    /// `null` with no ratings.
    pub average: Option<f64>,
    /// How many gave 1, 2, 3, 4 and 5 stars.
    pub stars: [i64; 5],
    /// The ratings, the latest changed first.
    pub page: Page<RatingItem>,
}

/// Stars 1–5 and a comment of at most [`MAX_COMMENT`] characters (trimmed; line breaks kept,
/// other control characters refused).
pub fn check(input: &RatingInput) -> Result<(u8, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    if !(1..=5).contains(&input.stars) {
        errors.push(FieldError::new("stars", msg("请选择 1–5 颗星。", "Give 1–5 stars.")));
    }
    let comment = input.comment.trim();
    if comment.chars().count() > MAX_COMMENT {
        errors.push(FieldError::new(
            "comment",
            msg(
                format!("评语最多 {MAX_COMMENT} 个字。"),
                format!("At most {MAX_COMMENT} characters."),
            ),
        ));
    }
    if comment.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(
            "comment",
            msg("评语不能包含控制字符。", "No control characters."),
        ));
    }
    if errors.is_empty() {
        Ok((input.stars, comment.to_owned()))
    } else {
        Err(errors)
    }
}

/// What the service knows of a target for one user.
struct Standing {
    title: String,
    took_part: bool,
    reviews: bool,
}

impl Evaluation {
    async fn standing(&self, user: &AuthUser, target: Target) -> EvaluationResult<Standing> {
        match target {
            Target::Course(id) => {
                let s = self.catalog.course_standing(user, id).await?;
                let watched = self.media.progress_of(user.id).await?;
                let took_part = watched
                    .iter()
                    .any(|p| p.watched_ms > 0 && s.assets.iter().any(|a| *a == p.asset_id.to_string()));
                Ok(Standing {
                    title: s.title,
                    took_part,
                    reviews: s.reviews,
                })
            }
            Target::Occurrence(id) => {
                let s = self.live.occurrence_standing(user, id).await?;
                Ok(Standing {
                    title: s.title,
                    took_part: s.took_part,
                    reviews: s.manages,
                })
            }
        }
    }

    /// The caller's rating of `target` and whether they may rate it.
    pub async fn my_rating(&self, user: &AuthUser, target: Target) -> EvaluationResult<MyRating> {
        let s = self.standing(user, target).await?;
        Ok(MyRating {
            may_rate: s.took_part,
            rating: store::mine(&self.db, user.id, target).await?,
        })
    }

    /// Rates `target` (again: changes the rating), after studying it.
    pub async fn rate(&self, user: &AuthUser, target: Target, input: RatingInput) -> EvaluationResult<RatingView> {
        let (stars, comment) = check(&input).map_err(EvaluationError::Invalid)?;
        let s = self.standing(user, target).await?;
        if !s.took_part {
            return Err(EvaluationError::NotStudied {
                live: matches!(target, Target::Occurrence(_)),
            });
        }
        let comment = self.live.filter_text(&comment);
        Ok(store::upsert(&self.db, user.id, target, stars, &comment, self.clock.now()).await?)
    }

    /// The ratings of `target`, for its expert and the staff in scope.
    pub async fn ratings(&self, user: &AuthUser, target: Target, page: &PageQuery) -> EvaluationResult<Ratings> {
        let limit = page.limit()?;
        let s = self.standing(user, target).await?;
        if !s.reviews {
            return Err(EvaluationError::RatingsOutOfScope);
        }
        let bad_cursor = || EvaluationError::field("cursor", msg("分页游标无效。", "Invalid cursor."));
        let after = match page.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => {
                let (at, id) = c.split_once('.').ok_or_else(bad_cursor)?;
                Some((
                    at.parse::<i64>().map_err(|_| bad_cursor())?,
                    id.parse::<uuid::Uuid>().map_err(|_| bad_cursor())?,
                ))
            }
        };
        let (count, average, stars) = store::summary(&self.db, target).await?;
        let mut rows = store::page(&self.db, target, after, i64::from(limit) + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| format!("{}.{}", r.updated_at.0, r.id))
        } else {
            None
        };
        Ok(Ratings {
            title: s.title,
            count,
            average,
            stars,
            page: Page {
                items: rows
                    .into_iter()
                    .map(|r| RatingItem {
                        rater: platform::validate::mask_name(&r.display_name),
                        stars: r.stars as u8,
                        comment: r.comment,
                        updated_at: r.updated_at,
                    })
                    .collect(),
                next_cursor,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_comments_are_checked() {
        let r = |stars, comment: &str| {
            check(&RatingInput {
                stars,
                comment: comment.into(),
            })
        };
        assert_eq!(r(5, "  很实用\n谢谢 ").ok(), Some((5, "很实用\n谢谢".to_owned())));
        assert!(r(0, "").is_err());
        assert!(r(6, "").is_err());
        assert!(r(3, &"好".repeat(MAX_COMMENT + 1)).is_err());
        assert!(r(3, &"好".repeat(MAX_COMMENT)).is_ok());
        assert!(r(3, "a\u{7}b").is_err());
    }
}
