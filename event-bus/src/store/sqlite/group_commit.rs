//! Group commit for the SQLite store: every write goes through one queue, and the writes queued
//! while a transaction is open all go into the next one (one `BEGIN IMMEDIATE … COMMIT`). So
//! concurrent publishes and the delivery workers' claims and marks share commits and their WAL
//! pages, instead of each taking SQLite's write lock in turn (whose busy handler sleeps for
//! milliseconds when connections of one process contend for it).

use super::writes::{Write, Written};
use crate::store::StoreError;
use sqlx::SqlitePool;
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

/// Runs `jobs` in one transaction, each in a savepoint of its own when there are several (so one
/// failing write answers its error and the others still commit), then answers every job.
async fn commit(pool: SqlitePool, jobs: Vec<Job>) {
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return fail_all(jobs.into_iter().map(|j| j.reply), &e.into()),
    };
    let isolate = jobs.len() > 1;
    let mut applied = Vec::with_capacity(jobs.len());
    for Job { write, reply } in jobs {
        if isolate {
            if let Err(e) = sqlx::query("SAVEPOINT w").execute(&mut *tx).await {
                let _ = reply.send(Err(e.into()));
                continue;
            }
        }
        match write.apply(&mut tx).await {
            Ok(done) if !isolate => applied.push((reply, done)),
            Ok(done) => match sqlx::query("RELEASE w").execute(&mut *tx).await {
                Ok(_) => applied.push((reply, done)),
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Err(e) => {
                let _ = reply.send(Err(e));
                // Alone in the transaction, or its savepoint not undone: dropping the
                // transaction rolls all of it back, and the others hear why.
                let undone = isolate
                    && sqlx::query("ROLLBACK TO w").execute(&mut *tx).await.is_ok()
                    && sqlx::query("RELEASE w").execute(&mut *tx).await.is_ok();
                if !undone {
                    let e = StoreError::Other("a write of the same transaction failed".into());
                    return fail_all(applied.into_iter().map(|(r, _)| r), &e);
                }
            }
        }
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, done) in applied {
                let _ = reply.send(Ok(done));
            }
        }
        Err(e) => fail_all(applied.into_iter().map(|(r, _)| r), &e.into()),
    }
}

fn fail_all(
    replies: impl Iterator<Item = oneshot::Sender<Result<Written, StoreError>>>,
    e: &StoreError,
) {
    for reply in replies {
        let _ = reply.send(Err(copy(e)));
    }
}

/// The same failure for every write of a transaction (`StoreError` is not `Clone`).
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Other(m) => StoreError::Other(m.clone()),
    }
}
