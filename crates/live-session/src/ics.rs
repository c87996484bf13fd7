//! iCalendar (RFC 5545) feeds: a parent's enrolled occurrences as events with a reminder, so a
//! phone's calendar subscribed to the secret URL reminds them. Pure text building.

use time::OffsetDateTime;

/// One event of a feed.
#[derive(Debug, Clone)]
pub struct Event {
    /// Stable across feed refreshes (calendars update the event in place).
    pub uid: String,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub summary: String,
    pub description: String,
    pub url: String,
    /// A cancelled occurrence stays in the feed with STATUS:CANCELLED so calendars drop it.
    pub cancelled: bool,
    /// Where an offline activity takes place (its alarm then says 活动, not 直播).
    pub location: Option<String>,
}

fn utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// TEXT escaping: backslash, semicolon, comma and newlines.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets without splitting a UTF-8 character.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// A whole calendar with `name` shown by calendar apps; reminders 30 minutes before each event.
pub fn calendar(name: &str, events: &[Event], now: OffsetDateTime) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ParentSchool//Live//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        line(&mut out, l);
    }
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    line(&mut out, "X-WR-TIMEZONE:Asia/Shanghai");
    line(&mut out, "REFRESH-INTERVAL;VALUE=DURATION:PT6H");
    for e in events {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", text(&e.uid)));
        line(&mut out, &format!("DTSTAMP:{}", utc(now)));
        line(&mut out, &format!("DTSTART:{}", utc(e.starts_at)));
        line(&mut out, &format!("DTEND:{}", utc(e.ends_at)));
        line(&mut out, &format!("SUMMARY:{}", text(&e.summary)));
        if !e.description.is_empty() {
            line(&mut out, &format!("DESCRIPTION:{}", text(&e.description)));
        }
        if let Some(place) = &e.location {
            line(&mut out, &format!("LOCATION:{}", text(place)));
        }
        line(&mut out, &format!("URL:{}", e.url));
        line(
            &mut out,
            if e.cancelled {
                "STATUS:CANCELLED"
            } else {
                "STATUS:CONFIRMED"
            },
        );
        if !e.cancelled {
            let soon = if e.location.is_some() {
                "DESCRIPTION:活动即将开始"
            } else {
                "DESCRIPTION:直播即将开始"
            };
            for l in ["BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT30M", soon, "END:VALARM"] {
                line(&mut out, l);
            }
        }
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn events_are_escaped_folded_and_in_utc() {
        let e = Event {
            uid: "occ-1@parentschool".into(),
            starts_at: datetime!(2026-12-03 19:30 +8),
            ends_at: datetime!(2026-12-03 20:30 +8),
            summary: "青春期沟通, 第一讲; 家长必看".into(),
            description: "主讲：王老师\n请提前进入".repeat(5),
            url: "https://example.org/live/occ-1".into(),
            cancelled: false,
            location: None,
        };
        let ics = calendar("我的直播", &[e], datetime!(2026-11-29 12:00 UTC));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.contains("DTSTART:20261203T113000Z\r\n"));
        assert!(ics.contains("DTEND:20261203T123000Z\r\n"));
        assert!(ics.contains("SUMMARY:青春期沟通\\, 第一讲\\; 家长必看\r\n"));
        assert!(ics.contains("TRIGGER:-PT30M"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "line longer than 75 octets: {l}");
        }
        // Unfolding restores the description.
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("DESCRIPTION:{}", "主讲：王老师\\n请提前进入".repeat(5))));
    }

    #[test]
    fn cancelled_events_have_no_alarm() {
        let e = Event {
            uid: "x".into(),
            starts_at: datetime!(2026-12-03 19:30 +8),
            ends_at: datetime!(2026-12-03 20:30 +8),
            summary: "s".into(),
            description: String::new(),
            url: "u".into(),
            cancelled: true,
            location: None,
        };
        let ics = calendar("c", &[e], datetime!(2026-11-29 12:00 UTC));
        assert!(ics.contains("STATUS:CANCELLED") && !ics.contains("VALARM") && !ics.contains("DESCRIPTION:\r\n"));
    }

    #[test]
    fn an_offline_activity_says_where() {
        let e = Event {
            uid: "a".into(),
            starts_at: datetime!(2026-12-05 09:00 +8),
            ends_at: datetime!(2026-12-05 11:00 +8),
            summary: "活动：亲子自然观察".into(),
            description: String::new(),
            url: "u".into(),
            cancelled: false,
            location: Some("学校礼堂, 二楼".into()),
        };
        let ics = calendar("c", &[e], datetime!(2026-11-29 12:00 UTC));
        assert!(ics.contains("LOCATION:学校礼堂\\, 二楼\r\n"), "{ics}");
        assert!(ics.contains("DESCRIPTION:活动即将开始"));
    }
}
