//! Child age stages of the national family-education guideline (全国家庭教育指导大纲): what
//! courses and live series are for, and (later) what a child's birth date maps to. One home, so
//! the catalog and live sessions accept the same codes with the same message.

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
