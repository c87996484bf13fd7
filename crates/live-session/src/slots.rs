//! How many sessions one user may hold in one lecture: WebRTC viewers, live event streams and
//! live HLS heartbeat sessions alike. The one home of the rule; each holder applies it under
//! its own lock, so that a check and the claim that follows are one step.

use platform::ids::UserId;

/// Sessions one user may hold in one lecture; a newer one replaces the oldest.
pub const SESSIONS_PER_USER: usize = 2;

/// Whether a new session of `user` may join sessions `held` (`(key, user, opened_ms)`) under a
/// room `limit` (0: none), and which sessions it replaces: the user's oldest beyond
/// [`SESSIONS_PER_USER`], and, in a full room, the user's own oldest (a phone switching networks
/// takes over its earlier connection). `None`: the room is full of other users' sessions.
pub fn admit<K: Copy>(held: &[(K, UserId, i64)], user: UserId, limit: usize) -> Option<Vec<K>> {
    let mut mine: Vec<(K, i64)> = held
        .iter()
        .filter(|(_, u, _)| *u == user)
        .map(|(k, _, t)| (*k, *t))
        .collect();
    mine.sort_by_key(|(_, t)| *t);
    let mut replace = mine.len().saturating_sub(SESSIONS_PER_USER - 1);
    if limit > 0 && held.len() - replace >= limit && replace < mine.len() {
        replace += 1;
    }
    if limit > 0 && held.len() - replace >= limit {
        return None;
    }
    Some(mine.into_iter().take(replace).map(|(k, _)| k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_sessions_replace_the_oldest_and_the_limit_holds() {
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(admit::<u8>(&[], a, 1), Some(vec![]));
        assert_eq!(admit(&[(1u8, a, 10)], a, 0), Some(vec![]), "a second session is fine");
        assert_eq!(
            admit(&[(2u8, a, 20), (1, a, 10)], a, 0),
            Some(vec![1]),
            "a third replaces the oldest"
        );
        assert_eq!(admit(&[(1u8, b, 10)], a, 1), None, "a room full of others");
        assert_eq!(
            admit(&[(1u8, a, 10)], a, 1),
            Some(vec![1]),
            "in a full room the user's own oldest gives way"
        );
        assert_eq!(admit(&[(1u8, a, 10), (2, b, 5)], a, 2), Some(vec![1]));
        assert_eq!(admit(&[(1u8, b, 10), (2, b, 5)], a, 3), Some(vec![]));
    }

    proptest::proptest! {
        /// After admitting, the user holds at most SESSIONS_PER_USER and the room at most its limit.
        #[test]
        fn limits_hold(held in proptest::collection::vec((0u8..3, 0i64..100), 0..8), limit in 0usize..5) {
            let users = [UserId::new(), UserId::new(), UserId::new()];
            let held: Vec<(usize, UserId, i64)> = held.iter().enumerate().map(|(i, (u, t))| (i, users[*u as usize], *t)).collect();
            if let Some(evict) = admit(&held, users[0], limit) {
                let left: Vec<_> = held.iter().filter(|(k, _, _)| !evict.contains(k)).collect();
                proptest::prop_assert!(left.iter().filter(|(_, u, _)| *u == users[0]).count() < SESSIONS_PER_USER);
                proptest::prop_assert!(limit == 0 || left.len() < limit);
                proptest::prop_assert!(evict.iter().all(|k| held[*k].1 == users[0]), "only the user's own sessions \
                                                                                      give way");
            }
        }
    }
}
