//! A parent's children (孩子): a nickname and a birth (or due) month or a school grade, nothing
//! more, since they are minors. The age stage is computed on every read (`crate::stages`), so
//! it follows the child as they grow; a grade moves up every September. Domains ask
//! [`stages_of`] for what to recommend. The handlers are in `routes`, the queries in `store`.

mod routes;
mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Timestamp;
use crate::db::Db;
use crate::error::{FieldError, PlatformError, PlatformResult, msg};
use crate::ids::{ChildId, UserId};
use crate::stages::{self, AgeStage, YearMonth};
use crate::validate;

pub(crate) use routes::router;

/// Most children one account keeps.
pub const MAX_CHILDREN: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildInput {
    /// What the family calls the child (not the real name), 1–20 characters.
    pub nickname: String,
    /// Birth year (or the due year, for 孕期), with `birth_month`…
    pub birth_year: Option<i32>,
    pub birth_month: Option<u8>,
    /// …or the school grade now: −2 小班, −1 中班, 0 大班, 1–6 小学, 7–9 初中, 10–12 高中.
    pub grade: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChildView {
    pub id: ChildId,
    pub nickname: String,
    pub birth_year: Option<i32>,
    pub birth_month: Option<u8>,
    /// The grade now (it moves up every September), when given by grade.
    pub grade: Option<i32>,
    /// 小班 … 高三, when given by grade.
    pub grade_label: Option<String>,
    /// The age stage now (`prenatal`, `0-3`, … `15-18`); `null` once 18 or past 高三.
    pub stage: Option<AgeStage>,
    /// 孕期, 0–3 岁 …; 已成年 once past the stages.
    pub stage_label: String,
    pub created_at: Timestamp,
}

/// The month `now` falls in, in China.
pub fn month_of(now: Timestamp) -> YearMonth {
    let d = now.to_offset_date_time().to_offset(crate::clock::CHINA).date();
    (d.year(), u8::from(d.month()))
}

impl store::ChildRow {
    fn view(&self, today: YearMonth) -> ChildView {
        let birth = self.birth_year.zip(self.birth_month).map(|(y, m)| (y, m as u8));
        let grade = self
            .grade
            .zip(self.grade_school_year)
            .map(|(g, y)| stages::grade_now(g, y, today));
        let stage = match (birth, grade) {
            (Some(b), _) => stages::stage_of_birth(b, today),
            (None, Some(Some(g))) => stages::stage_of_grade(g),
            _ => None,
        };
        ChildView {
            id: self.id,
            nickname: self.nickname.clone(),
            birth_year: birth.map(|b| b.0),
            birth_month: birth.map(|b| b.1),
            grade: grade.flatten(),
            grade_label: grade.flatten().map(|g| stages::grade_label(g).to_owned()),
            stage,
            stage_label: stage.map_or("已成年", AgeStage::label).to_owned(),
            created_at: self.created_at,
        }
    }
}

/// The children of `user`, oldest entry first, with their stages on `now`.
pub async fn children_of(db: &Db, user: UserId, now: Timestamp) -> PlatformResult<Vec<ChildView>> {
    let today = month_of(now);
    Ok(store::children(db, user).await?.iter().map(|c| c.view(today)).collect())
}

/// The distinct stages of `user`'s children on `now`, youngest stage first.
pub async fn stages_of(db: &Db, user: UserId, now: Timestamp) -> PlatformResult<Vec<AgeStage>> {
    let mut out: Vec<AgeStage> = children_of(db, user, now)
        .await?
        .into_iter()
        .filter_map(|c| c.stage)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Adds a child for `user` after checking the input: a birth month no more than ten months
/// ahead (孕期) and under 18 years back, or a grade; never both.
pub async fn add_child(db: &Db, user: UserId, now: Timestamp, input: ChildInput) -> PlatformResult<ChildView> {
    let today = month_of(now);
    let mut errors: Vec<FieldError> = Vec::new();
    let nickname = validate::name(&input.nickname, 20)
        .map_err(|m| errors.push(FieldError::new("nickname", m)))
        .ok();
    let (birth, grade) = match (input.birth_year, input.birth_month, input.grade) {
        (Some(y), Some(m), None) => {
            let months_back = (i64::from(today.0) - i64::from(y)) * 12 + i64::from(today.1) - i64::from(m);
            if !(1..=12).contains(&m) {
                errors.push(FieldError::new(
                    "birth_month",
                    msg("月份应为 1–12。", "The month is 1–12."),
                ));
            } else if months_back < -10 {
                errors.push(FieldError::new(
                    "birth_year",
                    msg(
                        "预产期最多填写 10 个月以后。",
                        "A due month is at most ten months ahead.",
                    ),
                ));
            } else if months_back >= 18 * 12 {
                errors.push(FieldError::new(
                    "birth_year",
                    msg("这里只记录未满 18 岁的孩子。", "Only children under 18."),
                ));
            }
            (Some((y, m)), None)
        }
        (None, None, Some(g)) => {
            if !stages::GRADES.contains(&g) {
                errors.push(FieldError::new(
                    "grade",
                    msg(
                        "年级应为 −2（小班）到 12（高三）。",
                        "The grade is −2 (小班) to 12 (高三).",
                    ),
                ));
            }
            (None, Some(g))
        }
        (y, _, g) => {
            let field = if g.is_some() {
                "grade"
            } else if y.is_none() {
                "birth_year"
            } else {
                "birth_month"
            };
            errors.push(FieldError::new(
                field,
                msg(
                    "请填写出生（或预产）年月，或者填写年级，二者选一。",
                    "Give the birth (or due) year and month, or the grade: one of the two.",
                ),
            ));
            (None, None)
        }
    };
    let Some(nickname) = nickname.filter(|_| errors.is_empty()) else {
        return Err(PlatformError::Invalid(errors));
    };
    if store::count(db, user).await? >= MAX_CHILDREN as i64 {
        return Err(PlatformError::field(
            "nickname",
            msg(
                format!("最多添加 {MAX_CHILDREN} 个孩子。"),
                format!("At most {MAX_CHILDREN} children."),
            ),
        ));
    }
    let row = store::ChildRow {
        id: ChildId::new(),
        user_id: user,
        nickname,
        birth_year: birth.map(|b| b.0),
        birth_month: birth.map(|b| i32::from(b.1)),
        grade,
        grade_school_year: grade.map(|_| stages::school_year(today)),
        created_at: now,
    };
    store::insert(db, &row).await?;
    Ok(row.view(today))
}

/// One child of `user` (404 for another's).
pub async fn child(db: &Db, user: UserId, id: ChildId, now: Timestamp) -> PlatformResult<ChildView> {
    store::child(db, user, id)
        .await?
        .map(|c| c.view(month_of(now)))
        .ok_or(PlatformError::ChildNotFound)
}

/// Removes a child's data (404 for another's).
pub async fn remove_child(db: &Db, user: UserId, id: ChildId) -> PlatformResult<()> {
    if store::delete(db, user, id).await? {
        Ok(())
    } else {
        Err(PlatformError::ChildNotFound)
    }
}
