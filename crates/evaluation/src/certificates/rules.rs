//! The pure part of certificate rules: what a rule may ask ([`check`]), when a course of its list
//! counts as completed ([`course_done`]) and whether a member's study meets it ([`meets`]).

use std::collections::BTreeSet;

use catalog::{CourseId, LessonId, ListId};
use platform::Timestamp;
use platform::error::{FieldError, msg};
use platform::ids::OrgId;
use serde::Deserialize;
use utoipa::ToSchema;

/// The most hours a condition may ask (a year of evenings).
const MAX_HOURS: f64 = 1000.0;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// 1–40 characters, printed on the certificate (e.g. 2026 年秋季学期家长学校结业证书).
    pub name: String,
    /// The organization whose members it is for, and which issues it.
    pub scope_org_id: OrgId,
    /// The period whose study counts (RFC 3339; `to` exclusive).
    pub from: Timestamp,
    pub to: Timestamp,
    /// Study hours credited in the period: recorded lessons, live lectures and offline
    /// activities together.
    pub min_hours: Option<f64>,
    /// Of which from live lectures.
    pub min_live_hours: Option<f64>,
    /// Of which from offline activities.
    pub min_offline_hours: Option<f64>,
    /// A curated list whose courses count…
    pub list_id: Option<ListId>,
    /// …how many of them must be completed in the period (default: all of them).
    pub min_courses: Option<u32>,
    /// Whether a course counts only once its lessons' quizzes are passed too.
    #[serde(default)]
    pub require_quizzes: bool,
}

/// A checked rule: hours as milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    pub from: Timestamp,
    pub to: Timestamp,
    pub min_total_ms: Option<i64>,
    pub min_live_ms: Option<i64>,
    pub min_offline_ms: Option<i64>,
    pub list_id: Option<ListId>,
    pub min_courses: Option<u32>,
    pub require_quizzes: bool,
}

/// The name (trimmed) and conditions of a rule, or every problem by field: a name of 1–40
/// characters, a period that ends after it begins, hours of 0–1000, a list for `min_courses`
/// and `require_quizzes`, and at least one condition.
pub fn check(input: &RuleInput) -> Result<(String, Conditions), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = platform::validate::name(&input.name, 40)
        .map_err(|m| errors.push(FieldError::new("name", m)))
        .unwrap_or_default();
    if input.to <= input.from {
        errors.push(FieldError::new(
            "to",
            msg("结束时间必须晚于开始时间。", "to must be after from."),
        ));
    }
    let mut hours = |field: &str, h: Option<f64>| -> Option<i64> {
        let h = h?;
        if !(h.is_finite() && h > 0.0 && h <= MAX_HOURS) {
            errors.push(FieldError::new(
                field,
                msg(
                    format!("学时应大于 0、不超过 {MAX_HOURS} 小时。"),
                    format!("Hours are above 0 and at most {MAX_HOURS}."),
                ),
            ));
            return None;
        }
        Some((h * 3_600_000.0).round() as i64)
    };
    let min_total_ms = hours("min_hours", input.min_hours);
    let min_live_ms = hours("min_live_hours", input.min_live_hours);
    let min_offline_ms = hours("min_offline_hours", input.min_offline_hours);
    if input.list_id.is_none() && (input.min_courses.is_some() || input.require_quizzes) {
        errors.push(FieldError::new(
            "list_id",
            msg(
                "按课程完成或小测发证时，请选择一个课程清单。",
                "Choose a curated list for completed courses or quizzes.",
            ),
        ));
    }
    if input.min_courses == Some(0) {
        errors.push(FieldError::new(
            "min_courses",
            msg("至少完成 1 门课程。", "At least one course."),
        ));
    }
    let any = input.min_hours.is_some()
        || input.min_live_hours.is_some()
        || input.min_offline_hours.is_some()
        || input.list_id.is_some();
    if !any {
        errors.push(FieldError::new(
            "min_hours",
            msg(
                "请至少设置一个条件：学时、直播学时、线下学时或课程清单。",
                "Set at least one condition: hours, live hours, offline hours or a list.",
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((
        name,
        Conditions {
            from: input.from,
            to: input.to,
            min_total_ms,
            min_live_ms,
            min_offline_ms,
            list_id: input.list_id,
            min_courses: input.min_courses,
            require_quizzes: input.require_quizzes,
        },
    ))
}

/// A course of the rule's list, as the job sees it: its lessons' media assets and the lessons
/// that have a quiz, each with whether the course requires passing it.
#[derive(Debug, Clone)]
pub struct PlanCourse {
    pub course: CourseId,
    pub assets: Vec<String>,
    pub quizzes: Vec<(LessonId, bool)>,
}

/// Whether a member completed `c`: every lesson video completed (`completed`: the assets they
/// completed in the period) and the quizzes that count passed (`passed`): all of them when the
/// rule asks, else those the course requires. A course with no video counts only through its
/// quizzes, when some count.
pub fn course_done(
    c: &PlanCourse,
    completed: &BTreeSet<String>,
    passed: &BTreeSet<LessonId>,
    require_quizzes: bool,
) -> bool {
    let videos = c.assets.iter().all(|a| completed.contains(a));
    let counted: Vec<LessonId> = c
        .quizzes
        .iter()
        .filter(|(_, required)| require_quizzes || *required)
        .map(|(l, _)| *l)
        .collect();
    let quizzes = counted.iter().all(|l| passed.contains(l));
    if c.assets.is_empty() {
        !counted.is_empty() && quizzes
    } else {
        videos && quizzes
    }
}

/// A member's study in the rule's period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Study {
    /// Recorded lessons, live lectures and offline activities together.
    pub total_ms: i64,
    pub live_ms: i64,
    pub offline_ms: i64,
    /// Courses of the list completed.
    pub courses_done: usize,
}

/// Whether `s` meets every condition of `c`; `list_len` is how many courses the list holds
/// (all of them are needed when the rule names no number).
pub fn meets(c: &Conditions, s: &Study, list_len: usize) -> bool {
    let at_least = |min: Option<i64>, got: i64| min.is_none_or(|m| got >= m);
    let courses = match c.list_id {
        None => true,
        Some(_) => {
            let need = c.min_courses.map_or(list_len, |n| n as usize);
            need > 0 && s.courses_done >= need
        }
    };
    at_least(c.min_total_ms, s.total_ms)
        && at_least(c.min_live_ms, s.live_ms)
        && at_least(c.min_offline_ms, s.offline_ms)
        && courses
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RuleInput {
        RuleInput {
            name: " 2026 年秋季学期结业证书 ".into(),
            scope_org_id: OrgId::new(),
            from: Timestamp(1_000),
            to: Timestamp(2_000),
            min_hours: Some(1.5),
            min_live_hours: None,
            min_offline_hours: None,
            list_id: None,
            min_courses: None,
            require_quizzes: false,
        }
    }

    #[test]
    fn a_rule_is_checked_field_by_field() {
        let (name, c) = check(&input()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (name.as_str(), c.min_total_ms),
            ("2026 年秋季学期结业证书", Some(5_400_000))
        );
        let bad = RuleInput {
            name: "".into(),
            to: Timestamp(1_000),
            min_live_hours: Some(-1.0),
            min_offline_hours: Some(f64::NAN),
            min_courses: Some(0),
            ..input()
        };
        let fields: Vec<String> = check(&bad)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "to",
                "min_live_hours",
                "min_offline_hours",
                "list_id",
                "min_courses"
            ]
        );
        let none = RuleInput {
            min_hours: None,
            ..input()
        };
        let fields: Vec<String> = check(&none)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["min_hours"]);
    }

    #[test]
    fn every_condition_must_hold() {
        let (_, mut c) = check(&input()).unwrap_or_else(|e| panic!("{e:?}"));
        c.min_live_ms = Some(1_000);
        let s = Study {
            total_ms: 5_400_000,
            live_ms: 1_000,
            offline_ms: 0,
            courses_done: 0,
        };
        assert!(meets(&c, &s, 0));
        assert!(!meets(&c, &Study { live_ms: 999, ..s }, 0));
        assert!(!meets(
            &c,
            &Study {
                total_ms: 5_399_999,
                ..s
            },
            0
        ));
        c.list_id = Some(ListId::new());
        assert!(!meets(&c, &s, 2), "all of the list by default");
        assert!(meets(&c, &Study { courses_done: 2, ..s }, 2));
        c.min_courses = Some(1);
        assert!(meets(&c, &Study { courses_done: 1, ..s }, 2));
        c.min_courses = None;
        assert!(
            !meets(&c, &Study { courses_done: 5, ..s }, 0),
            "an empty list is met by no one"
        );
    }

    #[test]
    fn a_course_is_done_with_its_videos_and_if_asked_its_quizzes() {
        let lesson = LessonId::new();
        let c = PlanCourse {
            course: CourseId::new(),
            assets: vec!["a".into(), "b".into()],
            quizzes: vec![(lesson, false)],
        };
        let both: BTreeSet<String> = ["a".to_owned(), "b".to_owned()].into();
        let one: BTreeSet<String> = ["a".to_owned()].into();
        let passed: BTreeSet<LessonId> = [lesson].into();
        assert!(course_done(&c, &both, &BTreeSet::new(), false));
        assert!(!course_done(&c, &one, &passed, false));
        assert!(!course_done(&c, &both, &BTreeSet::new(), true));
        assert!(course_done(&c, &both, &passed, true));
        let no_video = PlanCourse {
            assets: vec![],
            ..c.clone()
        };
        assert!(!course_done(&no_video, &both, &passed, false));
        assert!(course_done(&no_video, &both, &passed, true));
        // A quiz the course requires counts whatever the rule.
        let required = PlanCourse {
            quizzes: vec![(lesson, true)],
            ..c.clone()
        };
        assert!(!course_done(&required, &both, &BTreeSet::new(), false));
        assert!(course_done(&required, &both, &passed, false));
        let required_no_video = PlanCourse {
            assets: vec![],
            ..required
        };
        assert!(course_done(&required_no_video, &both, &passed, false));
    }
}
