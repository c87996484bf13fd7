//! Study terms (学期): the school semesters in China time (spring from 1 February, autumn from
//! 1 August), or the terms an operator configured; which is current, the one before, and the
//! last few (reports, evaluations and their trends all ask here).

use time::{Date, Month, OffsetDateTime};

use crate::clock::CHINA;

/// A term: its name, start and end (exclusive).
pub type Period = (String, OffsetDateTime, OffsetDateTime);

/// School semesters in China time: spring from 1 February, autumn from 1 August; the term
/// containing `now` and the one before it.
pub fn semesters(now: OffsetDateTime) -> [Period; 2] {
    let local = now.to_offset(CHINA);
    let at = |y: i32, m: Month| {
        Date::from_calendar_date(y, m, 1)
            .map(|d| d.midnight().assume_offset(CHINA))
            .unwrap_or(now)
    };
    let y = local.year();
    let (cur, prev) = match local.month() {
        Month::January => ((y - 1, false), (y - 1, true)),
        Month::February | Month::March | Month::April | Month::May | Month::June | Month::July => {
            ((y, true), (y - 1, false))
        }
        _ => ((y, false), (y, true)),
    };
    let term = |(year, spring): (i32, bool)| {
        if spring {
            (
                format!("{year} 年春季学期"),
                at(year, Month::February),
                at(year, Month::August),
            )
        } else {
            (
                format!("{year} 年秋季学期"),
                at(year, Month::August),
                at(year + 1, Month::February),
            )
        }
    };
    [term(cur), term(prev)]
}

/// A configured term's name and first and last day (both included) in China time, as a
/// [`Period`]; `None` when the days are out of order.
pub fn configured(name: &str, from: Date, to: Date) -> Option<Period> {
    if to < from {
        return None;
    }
    let end = to.next_day()?.midnight().assume_offset(CHINA);
    Some((name.to_owned(), from.midnight().assume_offset(CHINA), end))
}

/// The term containing `now` (or the last one that began before it) and the one before it,
/// from the configured terms; the school semesters when none is configured or none has begun.
pub fn terms_at(now: OffsetDateTime, configured: &[Period]) -> [Period; 2] {
    let mut terms: Vec<Period> = configured.to_vec();
    terms.sort_by_key(|t| t.1);
    let Some(i) = terms.iter().rposition(|t| t.1 <= now) else {
        return semesters(now);
    };
    let prev = match i.checked_sub(1) {
        Some(p) => terms[p].clone(),
        None => {
            // The last school semester that ended before this term began.
            let [a, b] = semesters(terms[i].1 - time::Duration::seconds(1));
            if a.2 > terms[i].1 { b } else { a }
        }
    };
    [terms[i].clone(), prev]
}

/// The `n` latest terms at `now`, the current one first (the trend of an evaluation).
pub fn recent(now: OffsetDateTime, configured: &[Period], n: usize) -> Vec<Period> {
    let [cur, prev] = terms_at(now, configured);
    let mut out = vec![cur, prev];
    while out.len() < n {
        let Some(last) = out.last() else { break };
        let [same, before] = terms_at(last.1, configured);
        // At a term's start the term itself is current; a gap before it is skipped.
        let next = if same.1 == last.1 { before } else { same };
        if next.1 >= last.1 {
            break;
        }
        out.push(next);
    }
    out.truncate(n);
    out
}

/// Pushes `CASE WHEN column >= from AND column < to THEN i … END`: the index of the period a
/// row's `column` falls in (NULL: none of them), so that one scan sums several terms. Fills a
/// caller's query; every bound is bound, the indices are the query's own numbers.
pub fn push_period_index<'a, DB>(
    qb: &mut sqlx::QueryBuilder<'a, DB>,
    column: &str,
    periods: &[(crate::Timestamp, crate::Timestamp)],
) where
    DB: sqlx::Database,
    crate::Timestamp: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    qb.push("CASE");
    for (i, (from, to)) in periods.iter().enumerate() {
        qb.push(format!(" WHEN {column} >= "));
        qb.push_bind(*from);
        qb.push(format!(" AND {column} < "));
        qb.push_bind(*to);
        qb.push(format!(" THEN {i}"));
    }
    qb.push(" END");
}

/// Pushes the tail of a per-user sum in each of `periods` (after `WHERE` and the caller's own
/// conditions): `{time}` within the periods' span, the members of the subtree at `under` when
/// given ([`crate::orgs::push_members_under`]), and `GROUP BY {user}, period` (the alias the
/// caller gave [`push_period_index`]).
pub fn push_period_group<'a, DB>(
    qb: &mut sqlx::QueryBuilder<'a, DB>,
    time: &str,
    user: &str,
    periods: &[(crate::Timestamp, crate::Timestamp)],
    under: Option<&str>,
) where
    DB: sqlx::Database,
    crate::Timestamp: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    match (periods.iter().map(|p| p.0).min(), periods.iter().map(|p| p.1).max()) {
        (Some(from), Some(to)) => {
            qb.push(format!("{time} >= "));
            qb.push_bind(from);
            qb.push(format!(" AND {time} < "));
            qb.push_bind(to);
        }
        _ => {
            qb.push("1 = 0");
        }
    }
    crate::orgs::push_members_under(qb, user, under);
    qb.push(format!(" GROUP BY {user}, period"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semesters_follow_the_school_year() {
        let t = |s: &str| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        };
        let [cur, prev] = semesters(t("2026-11-29T12:00:00+08:00"));
        assert_eq!(cur.0, "2026 年秋季学期");
        assert_eq!(prev.0, "2026 年春季学期");
        let [cur, prev] = semesters(t("2027-01-15T12:00:00+08:00"));
        assert_eq!(cur.0, "2026 年秋季学期");
        assert_eq!(prev.0, "2026 年春季学期");
        let [cur, prev] = semesters(t("2027-03-01T12:00:00+08:00"));
        assert_eq!(cur.0, "2027 年春季学期");
        assert_eq!(prev.0, "2026 年秋季学期");
        // 1 February 00:30 in Beijing is still 31 January in UTC, but already spring.
        let [cur, _] = semesters(t("2027-02-01T00:30:00+08:00"));
        assert_eq!(cur.0, "2027 年春季学期");
    }

    #[test]
    fn configured_terms_take_over() {
        let t = |s: &str| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        };
        let day = |s: &str| {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap_or(time::Date::MIN)
        };
        let term =
            |name: &str, from: &str, to: &str| configured(name, day(from), day(to)).unwrap_or_else(|| panic!("{name}"));
        let terms = [
            term("2026 秋季", "2026-09-01", "2027-01-20"),
            term("2026 春季", "2026-02-20", "2026-07-10"),
        ];
        let [cur, prev] = terms_at(t("2026-11-29T12:00:00+08:00"), &terms);
        assert_eq!((cur.0.as_str(), prev.0.as_str()), ("2026 秋季", "2026 春季"));
        // `to` is inclusive: the whole of 20 January counts.
        assert_eq!(cur.2, t("2027-01-21T00:00:00+08:00"));
        // In the holidays the last term that began stays current.
        let [cur, _] = terms_at(t("2027-02-05T12:00:00+08:00"), &terms);
        assert_eq!(cur.0, "2026 秋季");
        // Before the first configured term began: the school semesters.
        let [cur, _] = terms_at(t("2025-12-01T12:00:00+08:00"), &terms);
        assert_eq!(cur.0, "2025 年秋季学期");
        // The first configured term's predecessor is the semester before it.
        let [cur, prev] = terms_at(t("2026-03-01T12:00:00+08:00"), &terms);
        assert_eq!((cur.0.as_str(), prev.0.as_str()), ("2026 春季", "2025 年秋季学期"));
    }

    #[test]
    fn recent_terms_go_back_one_by_one() {
        let t = |s: &str| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        };
        let names: Vec<String> = recent(t("2026-11-29T12:00:00+08:00"), &[], 4)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            names,
            [
                "2026 年秋季学期",
                "2026 年春季学期",
                "2025 年秋季学期",
                "2025 年春季学期"
            ]
        );
    }
}
