//! Group commit for the SQLite store: every write goes through one queue, and the writes queued
//! while a transaction is open all go into the next one (one `BEGIN IMMEDIATE … COMMIT`). So
//! concurrent publishes and the delivery workers' claims and marks share commits and their WAL
//! pages, instead of each taking SQLite's write lock in turn (whose busy handler sleeps for
//! milliseconds when connections of one process contend for it).

use super::writes::{Write, Written};
use crate::store::StoreError;
use shared::sqlite::SqlitePool;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The write queue of one store (one per process: replicas on one file still meet at SQLite's
/// lock, which `BEGIN IMMEDIATE` takes up front and the busy timeout waits for).
pub(super) struct GroupCommit {
    pool: SqlitePool,
    queue: Mutex<Vec<Job>>,
    /// Held for a whole transaction: the first caller to get it commits everything queued.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl GroupCommit {
    pub(super) fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            queue: Mutex::new(Vec::new()),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Applies `write` in the next transaction and answers once that transaction committed.
    pub(super) async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push(Job { write, reply });
        let turn = self.turn.clone().lock_owned().await;
        // A transaction that ran while we waited may have taken our write along.
        if let Ok(done) = answer.try_recv() {
            return done;
        }
        let jobs = std::mem::take(&mut *self.lock_queue());
        // In a task of its own, so that a caller going away (a publisher hanging up) neither
        // rolls back the others' writes nor loses their answers; it holds the turn to the end.
        let pool = self.pool.clone();
        tokio::spawn(async move {
            commit(pool, jobs).await;
            drop(turn);
        });
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Other("write abandoned".to_string())))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs `jobs` in one transaction and answers every job. Should one write fail, that transaction
/// is rolled back and each write runs again in a transaction of its own, so a failing write answers
/// its own error and the others still commit (writes do not fail in normal operation, so the
/// common case pays no savepoints).
async fn commit(pool: SqlitePool, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        match run(&pool, &jobs).await {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    let _ = job.reply.send(Ok(answer));
                }
                return;
            }
            Err(e) => tracing::debug!(error = %e, "a grouped write failed; writing each alone"),
        }
    }
    for job in jobs {
        let answer = run(&pool, std::slice::from_ref(&job)).await.and_then(|a| {
            a.into_iter()
                .next()
                .ok_or_else(|| StoreError::Other("a write went unanswered".to_string()))
        });
        let _ = job.reply.send(answer);
    }
}

/// Applies `jobs`' writes in one `BEGIN IMMEDIATE … COMMIT`; nothing is kept if one fails.
async fn run(pool: &SqlitePool, jobs: &[Job]) -> Result<Vec<Written>, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        answers.push(job.write.apply(&mut tx).await?);
    }
    tx.commit().await?;
    Ok(answers)
}
