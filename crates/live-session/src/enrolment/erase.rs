//! A deleted account's seats go to the next in line, its series enrolments end, and its chat
//! and question text is erased.

use platform::error::ApiResult;
use platform::ids::UserId;
use platform::with_db;

use crate::LiveError;
use crate::{Live, OccurrenceId};

/// A deleted account's traces in live lectures: its seats and waitlist places in lectures to
/// come are given up (the waitlist moves up), its whole-series enrolments end, and the text of
/// its chat messages and questions is erased (they stay hidden, for the counts).
#[async_trait::async_trait]
impl platform::accounts::AccountEraser for Live {
    async fn erase(&self, user: UserId) -> ApiResult<()> {
        let now = self.clock.now();
        let open: Vec<OccurrenceId> = with_db!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT e.occurrence_id FROM live_enrolments e JOIN live_occurrences o ON o.id = e.occurrence_id
             WHERE e.user_id = $1 AND e.state IN ('enrolled', 'waitlisted') AND o.state = 'scheduled' AND \
                 o.starts_at > $2",
            )
            .bind(user)
            .bind(now)
            .fetch_all(pool)
            .await
        })?;
        for occ in open {
            match self.cancel(occ, user).await {
                Ok(_) => {}
                // It started meanwhile: the seat is history now.
                Err(LiveError::EnrolmentClosed | LiveError::CancelClosed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        platform::db_execute!(&self.db, "DELETE FROM live_series_enrolments WHERE user_id = $1", user)?;
        platform::db_execute!(
            &self.db,
            "UPDATE live_messages SET text = '', hidden = $2 WHERE user_id = $1",
            user,
            true
        )?;
        Ok(())
    }
}
