//! Planning a series: its RRULE expanded (with the dates dropped) into occurrences, and the
//! checks on its texts and numbers.

use platform::Timestamp;
use platform::error::{FieldError, msg};
use time::{Date, Duration, OffsetDateTime};

use crate::recurrence::{self};
use crate::{LiveError, LiveResult};

/// The checked settings of a series (create and edit share them).
pub(crate) struct Plan {
    pub starts: Vec<OffsetDateTime>,
    pub exceptions: Vec<String>,
    pub duration_min: i32,
}

pub(crate) fn plan(rrule: &str, exceptions: &[String], start: Timestamp, duration_min: i32) -> LiveResult<Plan> {
    let mut errors = Vec::new();
    if !(10..=480).contains(&duration_min) {
        errors.push(FieldError {
            field: "duration_minutes".into(),
            message: msg("时长应在 10 到 480 分钟之间。", "Duration must be 10–480 minutes."),
        });
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut dates: Vec<Date> = Vec::new();
    for (i, e) in exceptions.iter().enumerate() {
        match Date::parse(e.trim(), &fmt) {
            Ok(d) => dates.push(d),
            Err(_) => errors.push(FieldError {
                field: format!("exceptions[{i}]"),
                message: msg(
                    format!("“{e}”不是日期，应为 2026-12-24 这样的格式。"),
                    format!("{e:?} is not a date such as 2026-12-24."),
                ),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(LiveError::Invalid(errors));
    }
    let rule = recurrence::parse(rrule)?;
    let starts = recurrence::expand(
        &rule,
        start.to_offset_date_time(),
        Duration::minutes(i64::from(duration_min)),
        &dates,
    )?;
    Ok(Plan {
        starts,
        exceptions: dates.iter().map(|d| d.format(&fmt).unwrap_or_default()).collect(),
        duration_min,
    })
}

pub(crate) fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(FieldError {
            field: field.into(),
            message: msg("不能为空。", "Must not be empty."),
        });
    }
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError {
            field: field.into(),
            message: msg(
                format!("最多 {max} 个字，且不能有控制字符。"),
                format!("At most {max} characters, no control characters."),
            ),
        });
    }
    Ok(v.to_owned())
}

pub(super) fn check_numbers(capacity: i32, threshold: f64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !(1..=100_000).contains(&capacity) {
        errors.push(FieldError {
            field: "capacity".into(),
            message: msg("人数上限应在 1 到 100000 之间。", "Capacity must be 1–100000."),
        });
    }
    if !(threshold > 0.0 && threshold <= 1.0) {
        errors.push(FieldError {
            field: "attendance_threshold".into(),
            message: msg(
                "出勤比例应大于 0 且不超过 1（例如 0.5）。",
                "The threshold must be in (0, 1], e.g. 0.5.",
            ),
        });
    }
    errors
}
