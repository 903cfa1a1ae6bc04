//! Group commit for the SQLite store: every write goes through one queue, and the writes queued
//! while a transaction is open all go into the next one (one `BEGIN IMMEDIATE … COMMIT`). So
//! concurrent publishes and the delivery workers' claims and marks share commits and their WAL
//! pages, instead of each taking SQLite's write lock in turn (whose busy handler sleeps for
//! milliseconds when connections of one process contend for it).

use super::writes::{Write, Written};
use crate::store::StoreError;
use shared::sqlite::Database;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// A queued write's answer, sent once its transaction committed (or failed).
type Reply = oneshot::Sender<Result<Written, StoreError>>;

struct Job {
    write: Write,
    reply: Reply,
}

/// The write queue of one store (one per process: replicas on one file still meet at SQLite's
/// lock, which `BEGIN IMMEDIATE` takes up front and the busy timeout waits for).
pub(super) struct GroupCommit {
    db: Database,
    queue: Mutex<Vec<Job>>,
    /// Held for a whole transaction: the first caller to get it commits everything queued.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl GroupCommit {
    pub(super) fn new(db: Database) -> Self {
        Self {
            db,
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
        let db = self.db.clone();
        tokio::spawn(async move {
            commit(&db, jobs).await;
            drop(turn);
        });
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Other("write abandoned".to_string())))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `jobs` in one transaction and answers every job. Should one write fail, that transaction
/// is rolled back and each write runs again in a transaction of its own, so a failing write answers
/// its own error and the others still commit (writes do not fail in normal operation, so the
/// common case pays no savepoints).
async fn commit(db: &Database, jobs: Vec<Job>) {
    let (writes, replies): (Vec<Write>, Vec<Reply>) =
        jobs.into_iter().map(|job| (job.write, job.reply)).unzip();
    // Shared with the transactions' closures (which must own what they use), and kept here for
    // running each write again alone.
    let writes = Arc::new(writes);
    if writes.len() > 1 {
        match run(db, writes.clone(), 0..writes.len()).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
                return;
            }
            Err(e) => tracing::debug!(error = %e, "a grouped write failed; writing each alone"),
        }
    }
    for (i, reply) in replies.into_iter().enumerate() {
        let answer = run(db, writes.clone(), i..i + 1).await.and_then(|a| {
            a.into_iter()
                .next()
                .ok_or_else(|| StoreError::Other("a write went unanswered".to_string()))
        });
        let _ = reply.send(answer);
    }
}

/// Applies the writes `range` of `writes` in one `BEGIN IMMEDIATE … COMMIT` (one
/// [`Database::write`]); nothing is kept if one fails.
async fn run(
    db: &Database,
    writes: Arc<Vec<Write>>,
    range: Range<usize>,
) -> Result<Vec<Written>, StoreError> {
    db.write(move |tx| {
        writes
            .get(range)
            .unwrap_or_default()
            .iter()
            .map(|write| write.apply(tx))
            .collect()
    })
    .await
}
