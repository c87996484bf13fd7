//! The queue's queries over `jobs`: enqueue, claim the oldest due job under a lease, renew the
//! lease with progress, mark done or failed, and read a job's state. Each returns rows; when to
//! retry and how long to back off is decided by the queue (the parent module).

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::JobId;
use crate::{db_execute, with_db};

/// The statement that enqueues a job; bind `(id, kind, payload, max_attempts, now)`.
pub(super) const INSERT_SQL: &str = "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, \
                                     run_after, progress, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, 0, $5, $5)";

/// A claimed job as stored (the payload still JSON text).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ClaimedRow {
    pub(super) id: JobId,
    pub(super) kind: String,
    pub(super) payload: String,
    pub(super) attempts: i32,
    pub(super) max_attempts: i32,
}

pub(super) async fn insert(
    db: &Db,
    id: JobId,
    kind: &str,
    payload: String,
    max_attempts: i32,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(db, INSERT_SQL, id, kind, payload, max_attempts, now)?;
    Ok(())
}

/// Claims for `worker` until `lease_until` the oldest job of one of `kinds` (not empty) that is
/// due at `now`: queued and due, or running with an expired lease.
pub(super) async fn claim(
    db: &Db,
    worker: &str,
    lease_until: Timestamp,
    now: Timestamp,
    kinds: &[&'static str],
) -> Result<Option<ClaimedRow>, sqlx::Error> {
    with_db!(db, |pool| {
        let due = "((state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3))";
        let placeholders: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
        // The condition is checked again on the row itself, so of two workers racing for the
        // same job only one update matches.
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_until = $2, \
             updated_at = $3 \
             WHERE {due} AND id = (SELECT id FROM jobs WHERE {due} AND kind IN ({}) ORDER BY \
             run_after, id LIMIT 1) \
             RETURNING id, kind, payload, attempts, max_attempts",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, ClaimedRow>(&sql)
            .bind(worker)
            .bind(lease_until)
            .bind(now);
        for k in kinds {
            q = q.bind(*k);
        }
        q.fetch_optional(pool).await
    })
}

/// Renews `worker`'s lease of job `id` until `lease_until` and stores `progress`; the number of
/// rows changed (0: the lease was lost).
pub(super) async fn heartbeat(
    db: &Db,
    id: JobId,
    worker: &str,
    lease_until: Timestamp,
    progress: i32,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    db_execute!(
        db,
        "UPDATE jobs SET lease_until = $3, progress = $4, updated_at = $5 WHERE id = $1 AND \
         lease_owner = $2 AND state = 'running'",
        id,
        worker,
        lease_until,
        progress,
        now,
    )
}

pub(super) async fn complete(db: &Db, id: JobId, worker: &str, now: Timestamp) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE jobs SET state = 'done', progress = 100, lease_owner = NULL, lease_until = NULL, updated_at = $3
         WHERE id = $1 AND lease_owner = $2",
        id,
        worker,
        now,
    )?;
    Ok(())
}

/// Records a failed run of `worker`: the job goes to `state` (`queued` or `dead`), due again at
/// `run_after`, with its `error` kept.
pub(super) async fn fail(
    db: &Db,
    id: JobId,
    worker: &str,
    state: &str,
    run_after: Timestamp,
    error: String,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    db_execute!(
        db,
        "UPDATE jobs SET state = $3, run_after = $4, last_error = $5, lease_owner = NULL, lease_until = NULL, \
         updated_at = $6
         WHERE id = $1 AND lease_owner = $2",
        id,
        worker,
        state,
        run_after,
        error,
        now,
    )?;
    Ok(())
}

/// A job's state, progress, last error and attempts.
pub(super) async fn status(db: &Db, id: JobId) -> Result<Option<(String, i32, Option<String>, i32)>, sqlx::Error> {
    with_db!(db, |pool| {
        sqlx::query_as::<_, (String, i32, Option<String>, i32)>(
            "SELECT state, progress, last_error, attempts FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
    })
}
