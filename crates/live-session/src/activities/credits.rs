//! Offline study time: the 学时 of each activity a member checked in to (and out of, where it
//! asks), counted at the activity's start, for 我的学习, the learning record and the
//! organizations' reports. Every figure is a sum over the stored check-ins.

use std::collections::HashMap;

use platform::ids::UserId;
use platform::{Db, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::ActivityKind;
use crate::OccurrenceId;
use crate::store;

/// One activity a member earned credit in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendedActivity {
    pub activity_id: OccurrenceId,
    pub title: String,
    pub kind: ActivityKind,
    pub kind_label: &'static str,
    pub place: String,
    pub starts_at: Timestamp,
    pub checked_in_at: Timestamp,
    pub credited_ms: i64,
}

/// Read access to offline credit (the server composes it with lessons and live lectures).
#[derive(Clone, Debug)]
pub struct OfflineCredits {
    pub(crate) db: Db,
}

impl OfflineCredits {
    /// The activities `user` earned credit in, by start.
    pub async fn user_credits(&self, user: UserId) -> Result<Vec<AttendedActivity>, sqlx::Error> {
        Ok(store::activities::credits_of(&self.db, user)
            .await?
            .into_iter()
            .map(|(id, title, kind, place, starts_at, at, minutes)| AttendedActivity {
                activity_id: id,
                title,
                kind: ActivityKind::parse(&kind),
                kind_label: ActivityKind::parse(&kind).label(),
                place,
                starts_at,
                checked_in_at: at,
                credited_ms: i64::from(minutes) * 60_000,
            })
            .collect())
    }

    /// Offline study time of `user` for activities that started in `[from, to)`.
    pub async fn credited_between(&self, user: UserId, from: Timestamp, to: Timestamp) -> Result<i64, sqlx::Error> {
        Ok(self
            .totals_for(&[user], from, to)
            .await?
            .get(&user)
            .copied()
            .unwrap_or(0))
    }

    /// Offline study time per member for activities that started in `[from, to)`.
    pub async fn totals_for(
        &self,
        users: &[UserId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<UserId, i64>, sqlx::Error> {
        let mut out = HashMap::new();
        for chunk in users.chunks(500) {
            for (u, minutes) in store::activities::minutes_for(&self.db, chunk, from, to).await? {
                out.insert(u, minutes * 60_000);
            }
        }
        Ok(out)
    }

    /// Offline credit per user in each of `periods` (by the activity's start), from one scan,
    /// for the members of the subtree at `under` (`None`: everyone): `(user, period index, ms)`.
    pub async fn credited_in_periods(
        &self,
        periods: &[(Timestamp, Timestamp)],
        under: Option<&str>,
    ) -> Result<Vec<(UserId, usize, i64)>, sqlx::Error> {
        Ok(store::activities::minutes_in_periods(&self.db, periods, under)
            .await?
            .into_iter()
            .filter_map(|(u, p, minutes)| Some((u, usize::try_from(p?).ok()?, minutes * 60_000)))
            .collect())
    }
}
