//! A durable job queue in the database, for long work that must never run inside a request
//! (transcoding now; recording finalisation and reports later). Jobs are claimed with a lease;
//! a worker that dies stops renewing it and another worker takes the job over after it expires.
//! Failures are retried with exponential backoff until `max_attempts`, then the job is `dead`
//! with its last error kept. Any number of workers (processes or nodes) may share one database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::clock::{Clock, Timestamp};
use crate::db::Db;
use crate::ids::JobId;

mod store;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempts: i32,
    pub max_attempts: i32,
}

impl Job {
    /// Whether this run's failure `err` ends the job (`dead`): trying again cannot help, or this
    /// was the last attempt.
    pub fn is_last(&self, err: &JobError) -> bool {
        matches!(err, JobError::Fatal(_)) || self.attempts >= self.max_attempts
    }
}

/// How a run failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another try later (a crash, a full disk, a store that did not answer).
    #[error("{0}")]
    Retry(String),
    /// Trying again cannot help (the input is bad); the job ends `dead` at once.
    #[error("{0}")]
    Fatal(String),
}

/// What a running job may tell its worker.
#[derive(Debug, Clone)]
pub struct JobContext {
    progress: watch::Sender<i32>,
}

impl JobContext {
    /// Reports progress in percent (0–100); the worker stores it with the next heartbeat.
    pub fn progress(&self, percent: i32) {
        let _ = self.progress.send(percent.clamp(0, 100));
    }
}

/// How often moving progress is stored at most.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> &'static str;
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<(), JobError>;
}

/// The queue.
#[derive(Debug, Clone)]
pub struct Jobs {
    db: Db,
    clock: Arc<dyn Clock>,
    /// How long a claim lasts without renewal; a live worker renews it every third of it, and a
    /// dead worker's job is taken over after it.
    lease: Duration,
}

impl Jobs {
    pub fn new(db: Db, clock: Arc<dyn Clock>, lease: Duration) -> Self {
        Self {
            db,
            clock,
            lease: lease.max(Duration::from_secs(1)),
        }
    }

    /// The statement that enqueues a job, for callers that must do it inside their own
    /// transaction; bind `(id, kind, payload, max_attempts, now)`.
    pub const INSERT_SQL: &'static str = store::INSERT_SQL;

    /// Enqueues a job to run as soon as a worker is free.
    pub async fn enqueue(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        max_attempts: i32,
    ) -> Result<JobId, sqlx::Error> {
        let id = JobId::new();
        let now = self.clock.now();
        store::insert(&self.db, id, kind, payload.to_string(), max_attempts, now).await?;
        Ok(id)
    }

    /// Claims the oldest due job of one of `kinds`: queued and due, or running with an expired
    /// lease (its worker died).
    pub async fn claim(&self, worker: &str, kinds: &[&'static str]) -> Result<Option<Job>, sqlx::Error> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let lease_until = now.plus_seconds(self.lease.as_secs() as i64);
        let row = store::claim(&self.db, worker, lease_until, now, kinds).await?;
        Ok(row.map(|r| Job {
            id: r.id,
            kind: r.kind,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
        }))
    }

    /// Renews the lease and stores progress; `false` when the lease was lost to another worker.
    pub async fn heartbeat(&self, id: JobId, worker: &str, progress: i32) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        let lease_until = now.plus_seconds(self.lease.as_secs() as i64);
        let n = store::heartbeat(&self.db, id, worker, lease_until, progress, now).await?;
        Ok(n == 1)
    }

    pub async fn complete(&self, id: JobId, worker: &str) -> Result<(), sqlx::Error> {
        store::complete(&self.db, id, worker, self.clock.now()).await?;
        Ok(())
    }

    /// Records a failure: retried after a backoff (30 s, 2 min, 8 min, … up to an hour) unless
    /// fatal or out of attempts, then `dead`. Returns whether the job is dead.
    pub async fn fail(&self, job: &Job, worker: &str, error: &JobError) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        let dead = job.is_last(error);
        let backoff = (30i64 << (2 * (job.attempts - 1).clamp(0, 6))).min(3600);
        let state = if dead { "dead" } else { "queued" };
        store::fail(
            &self.db,
            job.id,
            worker,
            state,
            now.plus_seconds(backoff),
            error.to_string(),
            now,
        )
        .await?;
        Ok(dead)
    }

    /// A job's state, progress and last error.
    pub async fn status(&self, id: JobId) -> Result<Option<(String, i32, Option<String>, i32)>, sqlx::Error> {
        store::status(&self.db, id).await
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// Runs jobs until `shutdown` changes to `true`: claims a due job of a known kind, runs its
/// handler while renewing the lease, and records the outcome. Polls every `idle` when the queue
/// is empty. A job interrupted by shutdown keeps its lease and is picked up again after it
/// expires (by this or another worker).
pub async fn run_worker(
    jobs: Jobs,
    handlers: Vec<Arc<dyn JobHandler>>,
    worker: String,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let kinds: Vec<&'static str> = handlers.iter().map(|h| h.kind()).collect();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let job = match jobs.claim(&worker, &kinds).await {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim a job");
                None
            }
        };
        let Some(job) = job else {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        };
        let Some(handler) = handlers.iter().find(|h| h.kind() == job.kind).cloned() else {
            continue;
        };
        let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
        let _enter = span.enter();
        tracing::info!("job started");
        let (tx, mut rx) = watch::channel(0);
        let ctx = JobContext { progress: tx };
        let run = handler.run(&job, &ctx);
        tokio::pin!(run);
        let mut beat = tokio::time::interval(jobs.lease / 3);
        beat.tick().await;
        // Progress is stored as it moves, at most once a second (a heartbeat, which also renews
        // the lease), not only every lease/3: a transcode shorter than that would show 0 % and
        // then jump to ready.
        let mut shown = tokio::time::interval(PROGRESS_EVERY);
        shown.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut moved = false;
        let outcome = loop {
            tokio::select! {
                r = &mut run => break Some(r),
                Ok(()) = rx.changed(), if !moved => moved = true,
                _ = shown.tick(), if moved => {
                    moved = false;
                    let progress = *rx.borrow_and_update();
                    if let Err(e) = jobs.heartbeat(job.id, &worker, progress).await {
                        tracing::warn!(error = %e, "could not store the job's progress");
                    }
                }
                _ = beat.tick() => {
                    let progress = *rx.borrow_and_update();
                    moved = false;
                    match jobs.heartbeat(job.id, &worker, progress).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!("lost the job's lease; abandoning it");
                            break None;
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        tracing::info!("shutting down; the job will be resumed later");
                        return;
                    }
                }
            }
        };
        match outcome {
            Some(Ok(())) => {
                if let Err(e) = jobs.complete(job.id, &worker).await {
                    tracing::error!(error = %e, "could not mark the job done");
                }
                tracing::info!("job done");
            }
            Some(Err(err)) => match jobs.fail(&job, &worker, &err).await {
                Ok(dead) => tracing::warn!(error = %err, dead, "job failed"),
                Err(e) => tracing::error!(error = %e, "could not record the job's failure"),
            },
            None => {}
        }
    }
}
