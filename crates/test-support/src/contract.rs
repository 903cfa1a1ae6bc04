//! The store contract suites' one macro: every check of a store trait run on SQLite in memory, on a
//! SQLite file (a writer plus pooled readers) and on MongoDB, and the races on a SQLite file only.

use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

/// Runs `check` to its end, a panic included (for cleanup before the panic goes on).
pub async fn catch_unwind<F: Future<Output = ()>>(
    check: F,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    AssertUnwindSafe(check).catch_unwind().await
}

/// A SQLite database file in a directory of its own, removed (with its `-wal` and `-shm`) on drop.
pub struct TempSqlite {
    dir: PathBuf,
}

impl TempSqlite {
    /// A fresh, empty location.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("contract-{}", shared::ids::new_object_id()));
        Self { dir }
    }

    /// The `sqlite://` URL of the file (created by the store on connect).
    pub fn url(&self) -> String {
        format!("sqlite://{}/store.db", self.dir.display())
    }
}

impl Default for TempSqlite {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Expands a store contract suite. `connect` names an `async fn(&str) -> Arc<dyn Store>` in the
/// invoking module; each `checks` entry an `async fn(&dyn Store)` run as one test per backend
/// (modules `sqlite`, `sqlite_file`, `mongo`; the MongoDB one runs in a fresh database dropped after,
/// even when the check fails, and skips without `MONGO_TEST_URL`, or fails under `CI=true`); each `sqlite_only` entry an `async fn(Arc<dyn Store>)` run on a SQLite
/// file with four worker threads (module `sqlite_races`); each `replicas` entry an
/// `async fn(Arc<dyn Store>, Arc<dyn Store>)` given two stores on one database, as two replicas
/// sharing it, on a SQLite file and on MongoDB (modules `sqlite_replicas`, `mongo_replicas`: what
/// replicas share is decided by unique inserts, atomic on FerretDB too). Races stay off MongoDB
/// because FerretDB,
/// the stand-in the tests use, does not make a conditional update atomic under concurrent writers
/// (real MongoDB does).
#[macro_export]
macro_rules! store_contract {
    (
        connect: $connect:ident,
        checks: [$($check:ident),* $(,)?]
        $(, sqlite_only: [$($race:ident),* $(,)?])?
        $(, replicas: [$($replicas:ident),* $(,)?])?
        $(,)?
    ) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = super::$connect("sqlite::memory:").await;
                    super::$check(&*store).await;
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let db = $crate::contract::TempSqlite::new();
                    let store = super::$connect(&db.url()).await;
                    super::$check(&*store).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(db) = $crate::TestMongo::new() else { return };
                    let store = super::$connect(&db.url).await;
                    // The database is dropped even when the check fails.
                    let checked = $crate::contract::catch_unwind(super::$check(&*store)).await;
                    drop(store);
                    db.cleanup().await;
                    if let Err(panic) = checked {
                        ::std::panic::resume_unwind(panic);
                    }
                }
            )*
        }
        $(
            mod sqlite_races {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $race() {
                        let db = $crate::contract::TempSqlite::new();
                        let store = super::$connect(&db.url()).await;
                        super::$race(store).await;
                    }
                )*
            }
        )?
        $(
            mod sqlite_replicas {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $replicas() {
                        let db = $crate::contract::TempSqlite::new();
                        let first = super::$connect(&db.url()).await;
                        let second = super::$connect(&db.url()).await;
                        super::$replicas(first, second).await;
                    }
                )*
            }
            mod mongo_replicas {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $replicas() {
                        let Some(db) = $crate::TestMongo::new() else { return };
                        let first = super::$connect(&db.url).await;
                        let second = super::$connect(&db.url).await;
                        let checked = $crate::contract::catch_unwind(super::$replicas(first, second)).await;
                        db.cleanup().await;
                        if let Err(panic) = checked {
                            ::std::panic::resume_unwind(panic);
                        }
                    }
                )*
            }
        )?
    };
}
