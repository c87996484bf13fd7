//! A deleted account's seats go to the next in line, its series enrolments end, and its chat
//! and question text is erased.

use platform::error::ApiResult;
use platform::ids::UserId;

use crate::schedule::Schedule;
use crate::{Live, LiveError, LiveResult, store};

impl Schedule {
    /// A deleted account's traces in live lectures: its seats and waitlist places in lectures
    /// to come are given up (the waitlist moves up), its whole-series enrolments end, and the
    /// text of its chat messages and questions is erased (they stay hidden, for the counts).
    pub(crate) async fn erase(&self, user: UserId) -> LiveResult<()> {
        let now = self.clock.now();
        let open = store::enrolments::upcoming_of(&self.db, user, now).await?;
        for occ in open {
            match self.cancel(occ, user).await {
                Ok(_) => {}
                // It started meanwhile: the seat is history now.
                Err(LiveError::EnrolmentClosed | LiveError::CancelClosed) => {}
                Err(e) => return Err(e),
            }
        }
        store::enrolments::erase_traces(&self.db, user).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl platform::accounts::AccountEraser for Live {
    async fn erase(&self, user: UserId) -> ApiResult<()> {
        Ok(self.schedule.erase(user).await?)
    }
}
