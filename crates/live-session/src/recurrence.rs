//! Weekly recurrence: the RFC 5545 RRULE subset a parent school needs (`FREQ=WEEKLY`, optional
//! `INTERVAL`, `BYDAY`, and `COUNT` or `UNTIL`; `WKST` is accepted as `MO`), expanded in China
//! time (Asia/Shanghai has had no daylight saving since 1991, so it is a fixed +08:00), minus
//! exception dates. Pure: no clock, no I/O.

use platform::clock::CHINA;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

/// Most occurrences one series may have (two years of weekly lectures).
pub const MAX_OCCURRENCES: usize = 104;

/// A time as people in China read it: `2026年12月3日 19:30`.
pub fn china_time(at: platform::Timestamp) -> String {
    let t = OffsetDateTime::from_unix_timestamp(at.0.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CHINA);
    format!(
        "{}年{}月{}日 {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Count(u32),
    /// The last instant an occurrence may start (inclusive).
    Until(OffsetDateTime),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub interval: u32,
    /// Empty: the weekday of the first start.
    pub by_day: Vec<Weekday>,
    pub end: End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// The text is not an RRULE of the supported subset; says which part.
    Syntax(String),
    /// Neither COUNT nor UNTIL: a series must end.
    NoEnd,
    /// More than [`MAX_OCCURRENCES`].
    TooMany,
    /// No occurrence at all (e.g. UNTIL before the start, or every date excepted).
    Empty,
    /// Two occurrences would overlap (the duration is longer than the gap between them).
    Overlap,
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Monday,
        "TU" => Weekday::Tuesday,
        "WE" => Weekday::Wednesday,
        "TH" => Weekday::Thursday,
        "FR" => Weekday::Friday,
        "SA" => Weekday::Saturday,
        "SU" => Weekday::Sunday,
        _ => return None,
    })
}

/// `YYYYMMDD` (end of that day in China time) or `YYYYMMDDTHHMMSSZ` (UTC).
fn until(value: &str) -> Option<OffsetDateTime> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let date = value.get(..8).filter(|d| digits(d))?;
    let date = Date::from_calendar_date(
        date[..4].parse().ok()?,
        time::Month::try_from(date[4..6].parse::<u8>().ok()?).ok()?,
        date[6..8].parse().ok()?,
    )
    .ok()?;
    match value.get(8..) {
        Some("") => Some(PrimitiveDateTime::new(date, Time::from_hms(23, 59, 59).ok()?).assume_offset(CHINA)),
        Some(rest) => {
            let t = rest.strip_prefix('T')?.strip_suffix('Z')?;
            if t.len() != 6 || !digits(t) {
                return None;
            }
            let time = Time::from_hms(t[..2].parse().ok()?, t[2..4].parse().ok()?, t[4..6].parse().ok()?).ok()?;
            Some(PrimitiveDateTime::new(date, time).assume_utc())
        }
        None => None,
    }
}

/// Parses `FREQ=WEEKLY;BYDAY=TH;COUNT=10` (an optional `RRULE:` prefix is accepted).
pub fn parse(text: &str) -> Result<Rule, RuleError> {
    let text = text.trim();
    let text = text.strip_prefix("RRULE:").unwrap_or(text);
    let (mut freq, mut interval, mut by_day, mut count, mut until_at) = (None, 1u32, Vec::new(), None, None);
    for part in text.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| RuleError::Syntax(part.to_owned()))?;
        let bad = || RuleError::Syntax(part.to_owned());
        match k.to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(v.to_ascii_uppercase()),
            "INTERVAL" => interval = v.parse().ok().filter(|n| (1..=52).contains(n)).ok_or_else(bad)?,
            "BYDAY" => {
                for d in v.split(',') {
                    let day = weekday(&d.trim().to_ascii_uppercase()).ok_or_else(bad)?;
                    if !by_day.contains(&day) {
                        by_day.push(day);
                    }
                }
            }
            "COUNT" => count = Some(v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(bad)?),
            "UNTIL" => until_at = Some(until(v).ok_or_else(bad)?),
            "WKST" if v.eq_ignore_ascii_case("MO") => {}
            _ => return Err(bad()),
        }
    }
    if freq.as_deref() != Some("WEEKLY") {
        return Err(RuleError::Syntax(format!("FREQ={}", freq.unwrap_or_default())));
    }
    by_day.sort_by_key(|d| d.number_days_from_monday());
    let end = match (count, until_at) {
        (Some(_), Some(_)) => return Err(RuleError::Syntax("COUNT and UNTIL together".into())),
        (Some(n), None) if n as usize > MAX_OCCURRENCES => return Err(RuleError::TooMany),
        (Some(n), None) => End::Count(n),
        (None, Some(u)) => End::Until(u),
        (None, None) => return Err(RuleError::NoEnd),
    };
    Ok(Rule { interval, by_day, end })
}

/// The start instants of a series whose first occurrence starts at `start`, lasting
/// `duration` each, skipping `exceptions` (dates in China time). `COUNT` counts before the
/// exceptions are removed, as RFC 5545 does with EXDATE.
pub fn expand(
    rule: &Rule,
    start: OffsetDateTime,
    duration: Duration,
    exceptions: &[Date],
) -> Result<Vec<OffsetDateTime>, RuleError> {
    let start = start.to_offset(CHINA);
    let days = if rule.by_day.is_empty() {
        vec![start.weekday()]
    } else {
        rule.by_day.clone()
    };
    let monday = start.date() - Duration::days(i64::from(start.weekday().number_days_from_monday()));
    let mut out = Vec::new();
    let mut produced = 0usize;
    for week in 0.. {
        let week_start = monday + Duration::weeks(i64::from(rule.interval) * week);
        for d in &days {
            let at = PrimitiveDateTime::new(
                week_start + Duration::days(i64::from(d.number_days_from_monday())),
                start.time(),
            )
            .assume_offset(CHINA);
            if at < start {
                continue;
            }
            let done = match rule.end {
                End::Count(n) => produced >= n as usize,
                End::Until(u) => at > u,
            };
            if done {
                return finish(out, duration);
            }
            produced += 1;
            if produced > MAX_OCCURRENCES {
                return Err(RuleError::TooMany);
            }
            if !exceptions.contains(&at.date()) {
                out.push(at);
            }
        }
    }
    finish(out, duration)
}

fn finish(out: Vec<OffsetDateTime>, duration: Duration) -> Result<Vec<OffsetDateTime>, RuleError> {
    if out.is_empty() {
        return Err(RuleError::Empty);
    }
    if out.windows(2).any(|w| w[1] - w[0] < duration) {
        return Err(RuleError::Overlap);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const HOUR: Duration = Duration::hours(1);

    #[test]
    fn weekly_count_in_china_time() {
        let rule = parse("FREQ=WEEKLY;BYDAY=TH;COUNT=3").unwrap_or_else(|e| panic!("{e:?}"));
        let got = expand(&rule, datetime!(2026-12-03 19:30 +8), HOUR, &[]).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                datetime!(2026-12-03 19:30 +8),
                datetime!(2026-12-10 19:30 +8),
                datetime!(2026-12-17 19:30 +8)
            ]
        );
        // A start given in UTC is the same instant.
        let utc = expand(&rule, datetime!(2026-12-03 11:30 UTC), HOUR, &[]).unwrap_or_default();
        assert_eq!(utc, got);
    }

    #[test]
    fn several_days_interval_until_and_exceptions() {
        let rule = parse("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,TU;UNTIL=20261231").unwrap_or_else(|e| panic!("{e:?}"));
        // Starts on a Wednesday: that week's Tuesday is before the start and is skipped.
        let got = expand(&rule, datetime!(2026-12-02 20:00 +8), HOUR, &[date!(2026 - 12 - 15)]).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                datetime!(2026-12-05 20:00 +8),
                datetime!(2026-12-19 20:00 +8),
                datetime!(2026-12-29 20:00 +8)
            ]
        );
    }

    #[test]
    fn count_includes_excepted_dates() {
        let rule = parse("FREQ=WEEKLY;COUNT=3").unwrap_or_else(|e| panic!("{e:?}"));
        let got = expand(&rule, datetime!(2026-12-03 19:30 +8), HOUR, &[date!(2026 - 12 - 10)]).unwrap_or_default();
        assert_eq!(
            got,
            vec![datetime!(2026-12-03 19:30 +8), datetime!(2026-12-17 19:30 +8)]
        );
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse("FREQ=DAILY;COUNT=3"), Err(RuleError::Syntax(_))));
        assert!(matches!(
            parse("FREQ=WEEKLY;BYDAY=XX;COUNT=3"),
            Err(RuleError::Syntax(_))
        ));
        assert!(matches!(parse("FREQ=WEEKLY;COUNT=0"), Err(RuleError::Syntax(_))));
        assert!(matches!(
            parse("FREQ=WEEKLY;UNTIL=2026-12-31"),
            Err(RuleError::Syntax(_))
        ));
        assert!(matches!(
            parse("FREQ=WEEKLY;COUNT=2;UNTIL=20261231"),
            Err(RuleError::Syntax(_))
        ));
        assert!(matches!(
            parse("FREQ=WEEKLY;BYSETPOS=1;COUNT=2"),
            Err(RuleError::Syntax(_))
        ));
        assert_eq!(parse("FREQ=WEEKLY;BYDAY=MO"), Err(RuleError::NoEnd));
        assert_eq!(parse("FREQ=WEEKLY;COUNT=5000"), Err(RuleError::TooMany));
        let daily = parse("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;UNTIL=20300101").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            expand(&daily, datetime!(2026-12-03 19:30 +8), HOUR, &[]),
            Err(RuleError::TooMany)
        );
        let two = parse("FREQ=WEEKLY;BYDAY=MO,TU;COUNT=4").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            expand(&two, datetime!(2026-11-30 19:30 +8), Duration::hours(25), &[]),
            Err(RuleError::Overlap)
        );
        let past = parse("FREQ=WEEKLY;UNTIL=20261101").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            expand(&past, datetime!(2026-12-03 19:30 +8), HOUR, &[]),
            Err(RuleError::Empty)
        );
        // UNTIL with a UTC time is inclusive.
        let exact = parse("FREQ=WEEKLY;UNTIL=20261210T113000Z").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            expand(&exact, datetime!(2026-12-03 19:30 +8), HOUR, &[]).map(|v| v.len()),
            Ok(2)
        );
    }
}
