//! The study-time budget (学时): the one rule for how fast a user may earn credited time, shared
//! by recorded lessons (media) and live lectures (live-session). Pure; the callers keep the
//! budget in the `credit_allowance` row and lock it for the transaction that spends it.
//!
//! The budget grows at [`MAX_RATE`] times the wall clock while the user is active (the fastest
//! playback speed), is saved up to [`MAX_ALLOWANCE_MS`], and starts from nothing after a gap of
//! [`STALE_MS`] without activity, so idle time earns nothing. A millisecond of recorded lesson
//! costs one unit of it; a millisecond of live lecture costs [`MAX_RATE`] units, because live
//! time passes at the wall clock: during a lecture nothing is left for lessons in another tab,
//! and the total credited never exceeds `MAX_RATE ×` the wall clock however sources overlap.
//! Live time is credited once per wall-clock instant across all lectures (`live_until`).

use crate::Timestamp;
use crate::intervals::{Span, normalise};

/// Highest playback rate the player offers: credit may grow at most this fast.
pub const MAX_RATE: i64 = 2;
/// A gap without activity longer than this starts a new session: idle time earns no allowance.
pub const STALE_MS: i64 = 5 * 60 * 1000;
/// The most allowance that can be saved up (for reports delayed by a weak network).
pub const MAX_ALLOWANCE_MS: i64 = MAX_RATE * STALE_MS;

/// A user's budget as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    /// What may still be spent, in recorded-lesson milliseconds.
    pub allowance_ms: i64,
    /// When the allowance was last brought up to date (0: never).
    pub last_at: Timestamp,
    /// Live time is credited up to here (one cursor over all lectures).
    pub live_until: Timestamp,
}

impl Budget {
    /// Brings the allowance up to `now`. `active_since` is when the activity being credited
    /// began (a viewer's join); after a stale gap the allowance restarts from nothing there
    /// (never before the last update, so no time is counted twice).
    pub fn accrue(self, active_since: Timestamp, now: Timestamp) -> Self {
        let fresh = self.last_at.0 > 0 && now.0 - self.last_at.0 <= STALE_MS;
        let (base, from) = if fresh {
            (self.allowance_ms, self.last_at.0)
        } else {
            (0, active_since.0.max(self.last_at.0).max(now.0 - STALE_MS))
        };
        let gained = MAX_RATE.saturating_mul((now.0 - from).max(0));
        Self {
            allowance_ms: base.saturating_add(gained).clamp(0, MAX_ALLOWANCE_MS),
            last_at: Timestamp(now.0.max(self.last_at.0)),
            live_until: self.live_until,
        }
    }

    /// Starts a viewing session at `now` (a playback URL was issued): after a stale gap the
    /// allowance restarts from nothing now, so what follows is earned by watching time.
    pub fn open(self, now: Timestamp) -> Self {
        if self.last_at.0 > 0 && now.0 - self.last_at.0 <= STALE_MS {
            self
        } else {
            Self {
                allowance_ms: 0,
                last_at: now,
                live_until: self.live_until,
            }
        }
    }

    /// Spends up to `want_ms` of recorded-lesson time; returns what was granted.
    pub fn spend_recorded(&mut self, want_ms: i64) -> i64 {
        let granted = want_ms.clamp(0, self.allowance_ms.max(0));
        self.allowance_ms -= granted;
        granted
    }

    /// Credits live time: `windows[i]` are the wall-clock spans lecture `i` was live while the
    /// user was connected, up to `now`. Returns the milliseconds credited per lecture: only time
    /// after `live_until`, each instant once across lectures (the earliest-listed lecture
    /// first), within the allowance at [`MAX_RATE`] units per millisecond.
    pub fn spend_live(&mut self, windows: &[Vec<Span>], now: Timestamp) -> Vec<i64> {
        let mut taken: Vec<Span> = Vec::new();
        let mut out = Vec::with_capacity(windows.len());
        let cursor = self.live_until.0;
        for spans in windows {
            let mut fresh: Vec<Span> = Vec::new();
            for (a, b) in normalise(spans.clone()) {
                let (a, b) = (a.max(cursor), b.min(now.0));
                if a < b {
                    fresh.push((a, b));
                }
            }
            let fresh = minus(&normalise(fresh), &taken);
            let mut granted = 0;
            for (a, b) in fresh {
                let left = self.allowance_ms / MAX_RATE;
                if left <= 0 {
                    break;
                }
                let end = b.min(a + left);
                granted += end - a;
                self.allowance_ms -= (end - a) * MAX_RATE;
                taken.push((a, end));
            }
            taken = normalise(taken);
            out.push(granted);
        }
        self.live_until = Timestamp(self.live_until.0.max(now.0));
        out
    }
}

/// Locks `user`'s budget row for the transaction (creating it empty) and reads it: bind the
/// user id; returns `(allowance_ms, last_at, live_until)`. The no-op update takes the row lock on
/// PostgreSQL and the write lock on SQLite, so concurrent spenders go one after the other.
pub const LOCK_SQL: &str = "INSERT INTO credit_allowance (user_id, allowance_ms, last_at, live_until) VALUES ($1, \
                            0, 0, 0)
     ON CONFLICT (user_id) DO UPDATE SET allowance_ms = credit_allowance.allowance_ms
     RETURNING allowance_ms, last_at, live_until";

/// Stores a budget: bind the user id, `allowance_ms`, `last_at`, `live_until`.
pub const STORE_SQL: &str = "UPDATE credit_allowance SET allowance_ms = $2, last_at = $3, live_until = $4 WHERE \
                             user_id = $1";

/// [`LOCK_SQL`] for `n` users at once (bind their ids, in id order so that two nodes lock
/// alike); returns `(user_id, allowance_ms, last_at, live_until)` rows.
pub fn lock_many_sql(n: usize) -> String {
    let values: Vec<String> = (1..=n).map(|i| format!("(${i}, 0, 0, 0)")).collect();
    format!(
        "INSERT INTO credit_allowance (user_id, allowance_ms, last_at, live_until) VALUES {}
         ON CONFLICT (user_id) DO UPDATE SET allowance_ms = credit_allowance.allowance_ms
         RETURNING user_id, allowance_ms, last_at, live_until",
        values.join(", ")
    )
}

/// [`STORE_SQL`] for `n` users at once: bind, per user, its id, `allowance_ms`, `last_at`,
/// `live_until`.
pub fn store_many_sql(n: usize) -> String {
    let case = |col: usize| {
        (0..n)
            .map(|i| format!(" WHEN ${} THEN ${}", i * 4 + 1, i * 4 + col))
            .collect::<String>()
    };
    format!(
        "UPDATE credit_allowance SET allowance_ms = CASE user_id{} END, last_at = CASE user_id{} END, live_until = \
         CASE user_id{} END WHERE user_id IN ({})",
        case(2),
        case(3),
        case(4),
        (0..n).map(|i| format!("${}", i * 4 + 1)).collect::<Vec<_>>().join(", ")
    )
}

impl From<(i64, Timestamp, Timestamp)> for Budget {
    fn from((allowance_ms, last_at, live_until): (i64, Timestamp, Timestamp)) -> Self {
        Self {
            allowance_ms,
            last_at,
            live_until,
        }
    }
}

/// `a` without what `b` covers (both normalised).
pub fn minus(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for &(x, y) in a {
        let mut cursor = x;
        for &(p, q) in b {
            if q <= cursor || p >= y {
                continue;
            }
            if p > cursor {
                out.push((cursor, p));
            }
            cursor = cursor.max(q);
            if cursor >= y {
                break;
            }
        }
        if cursor < y {
            out.push((cursor, y));
        }
    }
    out
}

/// `a` within what `b` covers (both normalised).
pub fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for &(x, y) in a {
        for &(p, q) in b {
            let (s, e) = (x.max(p), y.min(q));
            if s < e {
                out.push((s, e));
            }
        }
    }
    normalise(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intervals::total;
    use proptest::prelude::*;

    /// The length of what `a` covers beyond `b`.
    fn fresh_ms(a: &[Span], b: &[Span]) -> i64 {
        total(&minus(&normalise(a.to_vec()), &normalise(b.to_vec())))
    }

    #[test]
    fn idle_time_earns_nothing_and_live_takes_the_whole_clock() {
        let b = Budget::default().accrue(Timestamp(1_000_000), Timestamp(1_010_000));
        assert_eq!(b.allowance_ms, 20_000, "10 s active: 20 s of allowance");
        let later = b.accrue(Timestamp(0), Timestamp(1_010_000 + STALE_MS + 1));
        assert_eq!(
            later.allowance_ms,
            2 * STALE_MS,
            "a stale gap restarts, from at most STALE_MS back"
        );
        let mut b = Budget::default().accrue(Timestamp(0), Timestamp(60_000));
        let live = b.spend_live(&[vec![(0, 60_000)], vec![(30_000, 60_000)]], Timestamp(60_000));
        assert_eq!(live, vec![60_000, 0], "two lectures at once count once");
        assert_eq!(b.spend_recorded(10_000), 0, "nothing left for a lesson in another tab");
        let again = b.spend_live(&[vec![(0, 60_000)]], Timestamp(60_000));
        assert_eq!(again, vec![0], "live time is credited once");
    }

    #[derive(Debug, Clone)]
    enum Step {
        Wait(i64),
        Open,
        Recorded(i64),
        Live(Vec<(i64, i64)>),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0i64..400_000).prop_map(Step::Wait),
            Just(Step::Open),
            (0i64..200_000).prop_map(Step::Recorded),
            proptest::collection::vec((-100_000i64..100_000, 0i64..100_000), 0..4).prop_map(Step::Live),
        ]
    }

    proptest! {
        /// Whatever mix of lessons, lectures, waits and session starts: the credited total never
        /// exceeds MAX_RATE × the wall clock since the first activity, live time never exceeds
        /// the wall clock, and no wall-clock instant is credited twice as live time.
        #[test]
        fn credit_never_outruns_the_wall_clock(steps in proptest::collection::vec(step(), 1..40)) {
            let start = 10_000_000i64;
            let mut now = start;
            let mut b = Budget::default();
            let (mut recorded, mut live_total) = (0i64, 0i64);
            let mut live_union: Vec<Span> = Vec::new();
            for s in steps {
                match s {
                    Step::Wait(ms) => now += ms,
                    Step::Open => b = b.open(Timestamp(now)),
                    Step::Recorded(want) => {
                        b = b.accrue(Timestamp(now), Timestamp(now));
                        recorded += b.spend_recorded(want);
                    }
                    Step::Live(w) => {
                        let windows: Vec<Vec<Span>> = w.iter().map(|(off, len)| vec![(now + off - 100_000, now + off - 100_000 + len)]).collect();
                        let since = windows.iter().flatten().map(|s| s.0).min().unwrap_or(now).max(start);
                        b = b.accrue(Timestamp(since), Timestamp(now));
                        let before = b.live_until;
                        let got = b.spend_live(&windows, Timestamp(now));
                        let mut all: Vec<Span> = Vec::new();
                        for (spans, g) in windows.iter().zip(&got) {
                            prop_assert!(*g >= 0);
                            all.extend(spans.iter().map(|&(a, e)| (a.max(before.0), e.min(now))));
                            live_total += g;
                        }
                        let fresh = fresh_ms(&normalise(all.clone()), &live_union);
                        prop_assert!(got.iter().sum::<i64>() <= fresh, "live credit beyond fresh connected live time");
                        live_union = normalise([live_union.clone(), all].concat());
                    }
                }
                let wall = now - start;
                prop_assert!(b.allowance_ms >= 0);
                prop_assert!(live_total <= wall, "live {live_total} > wall {wall}");
                prop_assert!(recorded + live_total * MAX_RATE <= MAX_RATE * wall,
                    "recorded {recorded} + live {live_total} outran {wall} ms of wall clock");
            }
        }

        #[test]
        fn minus_and_intersect_partition(a in proptest::collection::vec((0i64..1000, 0i64..100), 0..6),
                                         b in proptest::collection::vec((0i64..1000, 0i64..100), 0..6)) {
            let a = normalise(a.into_iter().map(|(x, l)| (x, x + l)).collect());
            let b = normalise(b.into_iter().map(|(x, l)| (x, x + l)).collect());
            prop_assert_eq!(total(&minus(&a, &b)) + total(&intersect(&a, &b)), total(&a));
        }
    }
}
