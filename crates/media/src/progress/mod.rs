//! Watch progress and study credits (学时), which federations award certificates from, so:
//! the server keeps the union of the ranges a user actually played (xAPI "played-segments"
//! semantics); seeking ahead credits nothing; newly credited time never grows faster than twice
//! the wall-clock time, summed over all of a user's sessions, tabs and live lectures (one budget,
//! `platform::study`); with `media.strict_credit` only ranges whose segments this user's playback
//! URL fetched count as played; a lesson is complete
//! when at least 90 % of its duration has been played. Every credited increment is logged with
//! its time, so totals per term can be recomputed from stored rows.

use axum::extract::State;
use platform::Timestamp;
use platform::auth::AuthUser;
use platform::error::{ApiResult, FieldError, msg};
use platform::http::{ApiRouter, Json, Path};
use platform::study::Budget;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::assets::AssetId;
use crate::playback::Playback;
use crate::states::AssetState;
use crate::{MediaError, MediaResult};

mod store;

pub use platform::intervals::{Span, normalise, total};
pub use store::{AssetProgress, WatchPlace};
use store::{Credited, PerUser, Played, Watched};

/// Adds `new` to the normalised `union`, crediting at most `budget` ms of coverage not already
/// in it, taken in playback order. Returns the new union and the credited milliseconds.
pub fn add_capped(union: &[Span], new: &[Span], budget: i64) -> (Vec<Span>, i64) {
    let mut fresh: Vec<Span> = Vec::new();
    for (a, b) in normalise(new.to_vec()) {
        let mut cursor = a;
        for &(ua, ub) in union {
            if ub <= cursor || ua >= b {
                continue;
            }
            if ua > cursor {
                fresh.push((cursor, ua.min(b)));
            }
            cursor = cursor.max(ub);
            if cursor >= b {
                break;
            }
        }
        if cursor < b {
            fresh.push((cursor, b));
        }
    }
    let mut left = budget.max(0);
    let mut taken = Vec::new();
    for (a, b) in fresh {
        if left == 0 {
            break;
        }
        let end = b.min(a + left);
        left -= end - a;
        taken.push((a, end));
    }
    let credited = total(&taken);
    let mut all = union.to_vec();
    all.extend(taken);
    (normalise(all), credited)
}

/// A lesson counts as complete at 90 % of its duration actually played.
pub fn complete(watched_ms: i64, duration_ms: i64) -> bool {
    duration_ms > 0 && watched_ms * 10 >= duration_ms * 9
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    /// Made by the player for each playback (a UUID).
    pub session_id: uuid::Uuid,
    /// Ranges played since the last report, in seconds: `[[from_s, to_s], …]`.
    pub segments: Vec<[f64; 2]>,
    /// Where playback is now, for resuming.
    pub position_s: f64,
    /// The lesson whose page plays the asset (one video may serve several courses): 我的学习
    /// shows the course it was watched in, and 继续学习 returns to it.
    #[serde(default)]
    pub lesson_id: Option<uuid::Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub asset_id: AssetId,
    /// Total time actually played and credited (the union of ranges).
    pub watched_s: f64,
    /// What this report added.
    pub credited_s: f64,
    pub duration_s: f64,
    /// `watched_s / duration_s`, 0–1.
    pub progress: f64,
    /// At least 90 % played.
    pub completed: bool,
    /// Where to resume.
    pub position_s: f64,
}

/// Checks a report against the asset's duration; every problem is named.
pub fn validate(report: &ProgressReport, duration_ms: i64) -> MediaResult<(Vec<Span>, i64)> {
    let mut errors = Vec::new();
    let field = |i: usize, zh: String, en: String| FieldError {
        field: format!("segments[{i}]"),
        message: msg(zh, en),
    };
    if report.segments.len() > 200 {
        return Err(MediaError::field(
            "segments",
            msg("一次最多报告 200 段。", "At most 200 segments per report."),
        ));
    }
    let tolerance = 1000;
    let mut spans = Vec::new();
    for (i, [from, to]) in report.segments.iter().enumerate() {
        if !from.is_finite() || !to.is_finite() || *from < 0.0 || *to < 0.0 {
            errors.push(field(
                i,
                "时间不能为负数。".into(),
                "Times must not be negative.".into(),
            ));
            continue;
        }
        if to < from {
            errors.push(field(
                i,
                "结束时间早于开始时间。".into(),
                "The segment ends before it starts.".into(),
            ));
            continue;
        }
        let (a, b) = ((from * 1000.0).round() as i64, (to * 1000.0).round() as i64);
        if b > duration_ms + tolerance {
            errors.push(field(
                i,
                format!("超出视频时长（{:.0} 秒）。", duration_ms as f64 / 1000.0),
                format!("Beyond the video's duration ({:.0} s).", duration_ms as f64 / 1000.0),
            ));
            continue;
        }
        spans.push((i, a, b.min(duration_ms)));
    }
    let mut sorted = spans.clone();
    sorted.sort_by_key(|(_, a, _)| *a);
    for w in sorted.windows(2) {
        if w[1].1 < w[0].2 {
            errors.push(field(
                w[1].0,
                "与同一报告中的另一段重叠。".into(),
                "Overlaps another segment of the same report.".into(),
            ));
        }
    }
    let position = (report.position_s * 1000.0).round() as i64;
    if !report.position_s.is_finite() || position < 0 || position > duration_ms + tolerance {
        errors.push(FieldError {
            field: "position_s".into(),
            message: msg("播放位置超出视频范围。", "position_s is outside the video."),
        });
    }
    if !errors.is_empty() {
        return Err(MediaError::Invalid(errors));
    }
    Ok((
        spans.into_iter().map(|(_, a, b)| (a, b)).collect(),
        position.clamp(0, duration_ms),
    ))
}

impl Playback {
    /// Opens a viewing session for the allowance: after a stale gap it starts from nothing at
    /// `now`, so the allowance that follows is earned by watching time, not by idle time.
    pub(crate) async fn open_session(&self, user: platform::ids::UserId) -> MediaResult<()> {
        let now = self.media.clock.now();
        store::update_budget(&self.media.db, user, |b| b.open(now)).await?;
        Ok(())
    }

    async fn record(&self, user: &AuthUser, asset: AssetId, report: ProgressReport) -> MediaResult<ProgressView> {
        let row = self.media.asset(asset).await?.ok_or(MediaError::AssetNotFound)?;
        if !self.media.may_watch(user, &row).await? {
            return Err(MediaError::AssetNotFound);
        }
        let duration_ms = match (row.state, row.duration_ms) {
            (AssetState::Ready, Some(d)) if d > 0 => d,
            _ => {
                return Err(MediaError::AssetNotReady { playing: false });
            }
        };
        let (spans, position) = validate(&report, duration_ms)?;
        // Strict credit: only what this user's playback URL fetched from us counts as played.
        let fetched = if self.media.cfg.strict_credit {
            Some(self.fetched_ranges(user.id, asset).await?)
        } else {
            None
        };
        let now = self.media.clock.now();
        let played = Played {
            session: report.session_id,
            lesson: report.lesson_id,
            position_ms: position,
        };
        // Runs under the lock of the user's budget, on what is stored: the new union, within
        // the allowance brought up to now.
        let credit = |budget: Budget, stored: Watched| {
            let mut budget = budget.accrue(now, now);
            let spans = match &fetched {
                Some(f) => platform::study::intersect(&normalise(spans), f),
                None => spans,
            };
            let (union, credited) = add_capped(&stored.union, &spans, budget.allowance_ms);
            budget.spend_recorded(credited);
            let watched = total(&union);
            let done = complete(watched, duration_ms);
            let completed_at = stored.completed_at.or(done.then_some(now));
            Credited {
                budget,
                union,
                watched,
                credited,
                completed_at,
            }
        };
        let out = store::record(&self.media.db, user.id, asset, &played, now, credit).await?;
        let (watched, credited, completed) = (out.watched, out.credited, out.completed_at.is_some());
        Ok(ProgressView {
            asset_id: asset,
            watched_s: watched as f64 / 1000.0,
            credited_s: credited as f64 / 1000.0,
            duration_s: duration_ms as f64 / 1000.0,
            progress: (watched as f64 / duration_ms as f64).min(1.0),
            completed,
            position_s: position as f64 / 1000.0,
        })
    }
}

impl crate::Media {
    /// The lessons a user watched assets in, the most recent first.
    pub async fn places_of(&self, user: platform::ids::UserId) -> MediaResult<Vec<WatchPlace>> {
        Ok(store::places_of(&self.db, user).await?)
    }

    /// A user's progress on every asset they have played.
    pub async fn progress_of(&self, user: platform::ids::UserId) -> MediaResult<Vec<AssetProgress>> {
        Ok(store::progress_of(&self.db, user).await?)
    }

    /// Per user: credited milliseconds earned in `[from, to)` and lessons (assets) completed by
    /// `to`, for the given users (an organization's report).
    pub async fn totals_for(
        &self,
        users: &[platform::ids::UserId],
        from: Timestamp,
        to: Timestamp,
    ) -> MediaResult<std::collections::HashMap<platform::ids::UserId, (i64, i64)>> {
        let mut out: std::collections::HashMap<platform::ids::UserId, (i64, i64)> = std::collections::HashMap::new();
        if users.is_empty() {
            return Ok(out);
        }
        let (credits, completed): (PerUser, PerUser) = (
            store::credited_per_user(&self.db, users, from, to).await?,
            store::completed_per_user(&self.db, users, to).await?,
        );
        for (u, ms) in credits {
            out.entry(u).or_default().0 = ms;
        }
        for (u, n) in completed {
            out.entry(u).or_default().1 = n;
        }
        Ok(out)
    }

    /// Credited milliseconds per user in each of `periods` (an evaluation's terms), from one
    /// scan of the credit log, for the members of the subtree at `under` (`None`: everyone):
    /// `(user, period index, ms)`.
    pub async fn credited_in_periods(
        &self,
        periods: &[(Timestamp, Timestamp)],
        under: Option<&str>,
    ) -> MediaResult<Vec<(platform::ids::UserId, usize, i64)>> {
        Ok(store::credited_in_periods(&self.db, periods, under)
            .await?
            .into_iter()
            .filter_map(|(u, p, ms)| Some((u, usize::try_from(p?).ok()?, ms)))
            .collect())
    }

    /// Marks `spans` of an asset as already watched by `user` without crediting them: time that
    /// was credited elsewhere (a live lecture whose replay this asset is). Watching those
    /// spans again earns nothing; the rest of the asset earns as usual, so the two make one
    /// union.
    pub async fn seed_watched(&self, user: platform::ids::UserId, asset: AssetId, spans: &[Span]) -> MediaResult<()> {
        let now = self.clock.now();
        store::add_watched(&self.db, user, asset, spans, now).await?;
        Ok(())
    }

    /// A user's credited recorded-lesson time per asset and China day: `(asset, day start,
    /// ms)`, oldest first (the learning record's items).
    pub async fn credit_days(&self, user: platform::ids::UserId) -> MediaResult<Vec<(AssetId, Timestamp, i64)>> {
        Ok(store::credit_days(&self.db, user)
            .await?
            .into_iter()
            .map(|(a, day, ms)| (a, Timestamp(day), ms))
            .collect())
    }

    /// Credited milliseconds a user earned in `[from, to)` (terms), from the credit log.
    pub async fn credited_between(
        &self,
        user: platform::ids::UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> MediaResult<i64> {
        Ok(store::credited_between(&self.db, user, from, to).await?)
    }
}

pub(crate) fn router() -> ApiRouter<Playback> {
    ApiRouter::new().routes(routes!(report, get_progress))
}

/// Report played ranges (every ~15 s and on pause/leave); returns the credited totals.
#[utoipa::path(post, path = "/api/v1/assets/{id}/progress", tag = "media", params(("id" = AssetId, Path)),
    request_body = ProgressReport,
    responses((status = 200, body = ProgressView), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn report(
    State(pb): State<Playback>,
    auth: AuthUser,
    Path(id): Path<AssetId>,
    Json(report): Json<ProgressReport>,
) -> ApiResult<Json<ProgressView>> {
    Ok(Json(pb.record(&auth, id, report).await?))
}

/// The caller's progress on an asset (where to resume, how much is watched).
#[utoipa::path(get, path = "/api/v1/assets/{id}/progress", tag = "media", params(("id" = AssetId, Path)),
    responses((status = 200, body = ProgressView), (status = 404)), security(("bearer" = [])))]
async fn get_progress(
    State(pb): State<Playback>,
    auth: AuthUser,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<ProgressView>> {
    let row = pb.media.asset(id).await?.ok_or(MediaError::AssetNotFound)?;
    if !pb.media.may_watch(&auth, &row).await? {
        return Err(MediaError::AssetNotFound.into());
    }
    let duration_ms = row.duration_ms.unwrap_or(0);
    let p: Option<(i64, i64, Option<Timestamp>)> = store::progress(&pb.media.db, auth.id, id).await?;
    let (watched, position, completed) = p.map_or((0, 0, false), |(w, pos, c)| (w, pos, c.is_some()));
    Ok(Json(ProgressView {
        asset_id: id,
        watched_s: watched as f64 / 1000.0,
        credited_s: 0.0,
        duration_s: duration_ms as f64 / 1000.0,
        progress: if duration_ms > 0 {
            (watched as f64 / duration_ms as f64).min(1.0)
        } else {
            0.0
        },
        completed,
        position_s: position as f64 / 1000.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn union_and_cap() {
        assert_eq!(normalise(vec![(5, 10), (0, 3), (2, 6), (20, 20)]), vec![(0, 10)]);
        let (u, c) = add_capped(&[(0, 10)], &[(5, 20)], 100);
        assert_eq!((u, c), (vec![(0, 20)], 10));
        let (u, c) = add_capped(&[(0, 10)], &[(30, 50), (12, 20)], 5);
        assert_eq!((u, c), (vec![(0, 10), (12, 17)], 5));
        let (u, c) = add_capped(&[(0, 10)], &[(2, 8)], 100);
        assert_eq!((u, c), (vec![(0, 10)], 0), "replaying credits nothing new");
        assert!(complete(90, 100) && !complete(89, 100) && !complete(0, 0));
    }

    proptest! {
        /// The union only grows, by exactly what was credited, never by more than the budget,
        /// and stays sorted and disjoint.
        #[test]
        fn add_capped_is_sound(
            union in proptest::collection::vec((0i64..1000, 0i64..100), 0..8),
            new in proptest::collection::vec((0i64..1000, 0i64..100), 0..8),
            budget in 0i64..500,
        ) {
            let union = normalise(union.into_iter().map(|(a, l)| (a, a + l)).collect());
            let new: Vec<Span> = new.into_iter().map(|(a, l)| (a, a + l)).collect();
            let (out, credited) = add_capped(&union, &new, budget);
            prop_assert!(credited <= budget && credited >= 0);
            prop_assert_eq!(total(&out), total(&union) + credited);
            prop_assert_eq!(normalise(out.clone()), out.clone());
            for (a, b) in &union {
                prop_assert!(out.iter().any(|(x, y)| x <= a && b <= y));
            }
            let mut everything = union.clone();
            everything.extend(new.iter().copied());
            let bound = normalise(everything);
            for (a, b) in &out {
                prop_assert!(bound.iter().any(|(x, y)| x <= a && b <= y), "credited outside what was played");
            }
        }
    }
}
