//! Child age stages of the national family-education guideline (全国家庭教育指导大纲): what
//! courses and live series are for, and what stage a child is in now, from a birth month (a
//! due month for 孕期) or from a school grade that moves up every September. One home, so the
//! catalog, live sessions and children's records agree.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Msg, msg};

/// Child age stages of the national family-education guideline (全国家庭教育指导大纲).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum AgeStage {
    #[serde(rename = "prenatal")]
    Prenatal,
    #[serde(rename = "0-3")]
    Infant,
    #[serde(rename = "3-6")]
    Preschool,
    #[serde(rename = "6-12")]
    Primary,
    #[serde(rename = "12-15")]
    Junior,
    #[serde(rename = "15-18")]
    Senior,
}

impl AgeStage {
    pub const ALL: [AgeStage; 6] = [
        Self::Prenatal,
        Self::Infant,
        Self::Preschool,
        Self::Primary,
        Self::Junior,
        Self::Senior,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Prenatal => "prenatal",
            Self::Infant => "0-3",
            Self::Preschool => "3-6",
            Self::Primary => "6-12",
            Self::Junior => "12-15",
            Self::Senior => "15-18",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Prenatal => "孕期",
            Self::Infant => "0–3 岁",
            Self::Preschool => "3–6 岁",
            Self::Primary => "6–12 岁",
            Self::Junior => "12–15 岁",
            Self::Senior => "15–18 岁",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code.trim())
    }
}

/// Parses age-stage codes, with a message naming the unknown one.
pub fn parse_age_stages(codes: &[String]) -> Result<Vec<AgeStage>, Msg> {
    let mut out = Vec::new();
    for code in codes {
        let stage = AgeStage::parse(code).ok_or_else(|| {
            msg(
                format!("未知的年龄段“{code}”：可选 prenatal、0-3、3-6、6-12、12-15、15-18。"),
                format!("Unknown age stage {code:?}: use prenatal, 0-3, 3-6, 6-12, 12-15 or 15-18."),
            )
        })?;
        if !out.contains(&stage) {
            out.push(stage);
        }
    }
    out.sort();
    Ok(out)
}

/// A calendar month, `(year, month 1–12)`.
pub type YearMonth = (i32, u8);

/// The stage of a child born in (or due in) `birth` on `today`: 孕期 before the birth month,
/// then by full years of age; `None` from 18 on.
pub fn stage_of_birth(birth: YearMonth, today: YearMonth) -> Option<AgeStage> {
    let months = (i64::from(today.0) - i64::from(birth.0)) * 12 + i64::from(today.1) - i64::from(birth.1);
    Some(match months {
        m if m < 0 => AgeStage::Prenatal,
        0..36 => AgeStage::Infant,
        36..72 => AgeStage::Preschool,
        72..144 => AgeStage::Primary,
        144..180 => AgeStage::Junior,
        180..216 => AgeStage::Senior,
        _ => return None,
    })
}

/// School grades: −2 小班, −1 中班, 0 大班 (kindergarten), 1–6 小学, 7–9 初中, 10–12 高中.
pub const GRADES: std::ops::RangeInclusive<i32> = -2..=12;

/// The school year a month belongs to: the year of the September it started in.
pub fn school_year(month: YearMonth) -> i32 {
    if month.1 >= 9 { month.0 } else { month.0 - 1 }
}

/// The grade now of a child who was in `grade` during school year `entered` (every September
/// moves it up one); `None` once past 高三.
pub fn grade_now(grade: i32, entered: i32, today: YearMonth) -> Option<i32> {
    let now = grade + (school_year(today) - entered).max(0);
    (now <= *GRADES.end()).then_some(now)
}

/// The stage of a child in school grade `grade`.
pub fn stage_of_grade(grade: i32) -> Option<AgeStage> {
    Some(match grade {
        g if g < *GRADES.start() => return None,
        ..=0 => AgeStage::Preschool,
        1..=6 => AgeStage::Primary,
        7..=9 => AgeStage::Junior,
        10..=12 => AgeStage::Senior,
        _ => return None,
    })
}

/// The Chinese name of a grade (小班 … 高三).
pub fn grade_label(grade: i32) -> &'static str {
    const NAMES: [&str; 15] = [
        "小班",
        "中班",
        "大班",
        "一年级",
        "二年级",
        "三年级",
        "四年级",
        "五年级",
        "六年级",
        "初一",
        "初二",
        "初三",
        "高一",
        "高二",
        "高三",
    ];
    usize::try_from(grade + 2)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_moves_through_the_stages_as_the_months_pass() {
        let born = (2020, 5);
        assert_eq!(stage_of_birth(born, (2020, 4)), Some(AgeStage::Prenatal));
        assert_eq!(stage_of_birth(born, (2020, 5)), Some(AgeStage::Infant));
        assert_eq!(stage_of_birth(born, (2023, 4)), Some(AgeStage::Infant));
        assert_eq!(stage_of_birth(born, (2023, 5)), Some(AgeStage::Preschool));
        assert_eq!(stage_of_birth(born, (2026, 5)), Some(AgeStage::Primary));
        assert_eq!(stage_of_birth(born, (2032, 4)), Some(AgeStage::Primary));
        assert_eq!(stage_of_birth(born, (2032, 5)), Some(AgeStage::Junior));
        assert_eq!(stage_of_birth(born, (2035, 5)), Some(AgeStage::Senior));
        assert_eq!(stage_of_birth(born, (2038, 4)), Some(AgeStage::Senior));
        assert_eq!(stage_of_birth(born, (2038, 5)), None);
    }

    #[test]
    fn a_grade_moves_up_every_september() {
        assert_eq!(school_year((2026, 8)), 2025);
        assert_eq!(school_year((2026, 9)), 2026);
        // In 三年级 in the 2025–26 school year: 四年级 from September 2026.
        assert_eq!(grade_now(3, 2025, (2026, 6)), Some(3));
        assert_eq!(grade_now(3, 2025, (2026, 9)), Some(4));
        assert_eq!(grade_now(0, 2025, (2026, 9)), Some(1), "大班 → 一年级");
        assert_eq!(stage_of_grade(0), Some(AgeStage::Preschool));
        assert_eq!(stage_of_grade(1), Some(AgeStage::Primary));
        assert_eq!(stage_of_grade(6), Some(AgeStage::Primary));
        assert_eq!(stage_of_grade(7), Some(AgeStage::Junior));
        assert_eq!(stage_of_grade(10), Some(AgeStage::Senior));
        assert_eq!(grade_now(12, 2025, (2026, 9)), None, "past 高三");
        assert_eq!(stage_of_grade(13), None);
        assert_eq!(stage_of_grade(-3), None);
        assert_eq!(grade_label(-2), "小班");
        assert_eq!(grade_label(7), "初一");
        assert_eq!(grade_label(12), "高三");
        assert_eq!(grade_label(13), "");
    }
}
