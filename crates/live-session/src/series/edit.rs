//! Changing a series after it was created: an edit re-plans future dates (keeping enrolments
//! where a date stays, cancelling the dropped ones with a notice), and stopping cancels them all.

use platform::Timestamp;
use platform::auth::AuthUser;

use super::*;
use crate::lifecycle::LiveState;
use crate::schedule::Schedule;
use crate::store;
use crate::{LiveError, LiveResult};
use crate::{OccurrenceId, SeriesId};

impl Schedule {
    /// Applies an edit; returns the future lectures it dropped (their parents are told, and
    /// whole-series enrolees fill the new ones, by [`crate::Live::edit_series`]).
    pub(crate) async fn edit_series(
        &self,
        user: &AuthUser,
        id: SeriesId,
        p: SeriesPatch,
    ) -> LiveResult<Vec<OccurrenceId>> {
        let s = self.audience.series_row(id).await?;
        if !self.audience.manages(user, &s).await? {
            return Err(LiveError::SeriesNotFound);
        }
        if p.version != s.version {
            return Err(LiveError::SeriesVersionConflict);
        }
        let mut errors = Vec::new();
        let mut field = |name: &str, new: Option<String>, old: String, max: usize, required: bool| match new {
            None => old,
            Some(v) => text(name, &v, max, required).unwrap_or_else(|e| {
                errors.push(e);
                old
            }),
        };
        let title = field("title", p.title, s.title.clone(), 100, true);
        let description = field("description", p.description, s.description.clone(), 2000, false);
        let lecturer = field("lecturer", p.lecturer, s.lecturer.clone(), 100, true);
        let capacity = p.capacity.unwrap_or(s.capacity);
        let threshold = p.attendance_threshold.unwrap_or(s.threshold);
        errors.extend(check_numbers(capacity, threshold));
        if !errors.is_empty() {
            return Err(LiveError::Invalid(errors));
        }
        let rrule = p.rrule.unwrap_or_else(|| s.rrule.clone());
        let exceptions = p
            .exceptions
            .unwrap_or_else(|| serde_json::from_str(&s.exceptions).unwrap_or_default());
        let first = p.starts_at.unwrap_or(s.first_start);
        let plan = plan(&rrule, &exceptions, first, p.duration_minutes.unwrap_or(s.duration_min))?;
        let stages = match &p.age_stages {
            Some(codes) => stages_json(codes)?,
            None => s.age_stages.clone(),
        };
        let now = self.clock.now();
        let wanted: Vec<Timestamp> = plan
            .starts
            .iter()
            .map(|t| Timestamp::from_offset_date_time(*t))
            .filter(|t| *t > now)
            .collect();
        let existing = self.occurrences_of(id).await?;
        let dropped: Vec<OccurrenceId> = existing
            .iter()
            .filter(|o| o.state == LiveState::Scheduled && o.starts_at > now && !wanted.contains(&o.starts_at))
            .map(|o| o.id)
            .collect();
        let fields = SeriesFields {
            title: &title,
            description: &description,
            lecturer: &lecturer,
            rrule: rrule.trim(),
            exceptions_json: serde_json::to_string(&plan.exceptions).unwrap_or_else(|_| "[]".into()),
            first_start: first,
            duration_min: plan.duration_min,
            capacity,
            threshold,
            stages_json: &stages,
        };
        let changed = store::series::update(&self.db, id, p.version, &fields, &existing, &wanted, now).await?;
        if changed == 0 {
            return Err(LiveError::SeriesVersionConflict);
        }
        Ok(dropped)
    }

    /// Stops a series: every future scheduled lecture is cancelled (returned, so that those
    /// enrolled or waitlisted are told); past lectures, a live one, and their records stay.
    pub(crate) async fn stop_series(&self, user: &AuthUser, id: SeriesId) -> LiveResult<Vec<OccurrenceId>> {
        let s = self.audience.series_row(id).await?;
        if !self.audience.manages(user, &s).await? {
            return Err(LiveError::SeriesNotFound);
        }
        let now = self.clock.now();
        Ok(store::series::stop(&self.db, id, now).await?)
    }
}
