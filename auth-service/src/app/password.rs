//! Password hashing with argon2id (m=19456 KiB, t=2, p=1 by default), computed off the async runtime
//! on a fixed number of dedicated threads that run at the lowest CPU priority (nice 19): hashing
//! uses every idle cycle, but any request thread that wants the CPU gets it first, so a login storm
//! does not slow the rest of the service. A dummy hash lets a login for an unknown email cost the
//! same as one with a wrong password.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Hashing failed (bad parameters or a panicked worker): a server fault.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on a fixed number of low-priority threads.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    jobs: mpsc::Sender<Job>,
    dummy_hash: Arc<str>,
}

/// Starts `n` hashing threads taking jobs from one queue; they end when every sender is dropped.
fn start_threads(n: usize) -> Result<mpsc::Sender<Job>, HashError> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only to take one job, never while hashing.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| HashError(e.to_string()))?;
    }
    Ok(tx)
}

/// Nice 19 for the calling thread (Linux sets it per thread). Unprivileged processes can lower
/// their priority, never raise it back: hence dedicated threads, not the shared blocking pool.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        tracing::warn!(error = %e, "hashing thread keeps the normal CPU priority");
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    argon2(params)
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

fn verify_blocking(params: &Params, password: &[u8], hash: &str) -> bool {
    // The stored PHC string carries its own parameters; `params` only sets the default.
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2(params).verify_password(password, &parsed).is_ok())
}

impl Passwords {
    /// Argon2id with `memory_kib` KiB, 2 passes, 1 lane; `concurrency` hashing threads.
    pub async fn new(memory_kib: u32, concurrency: usize) -> Result<Self, HashError> {
        let params = Params::new(memory_kib, 2, 1, None).map_err(|e| HashError(e.to_string()))?;
        let mut this = Self {
            params,
            jobs: start_threads(concurrency.max(1))?,
            dummy_hash: Arc::from(""),
        };
        let dummy = this.hash(&shared::ids::random_token(16)).await?;
        this.dummy_hash = Arc::from(dummy.as_str());
        Ok(this)
    }

    /// A new PHC hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        self.run(move || hash_blocking(&params, &password)).await?
    }

    /// Whether `password` matches `hash`; with `None` it verifies against the dummy hash (same cost)
    /// and answers `false`.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, HashError> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_string);
        let matched = self
            .run(move || verify_blocking(&params, &password, &hash))
            .await?;
        Ok(known && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| HashError("hashing threads stopped".into()))?;
        rx.await
            .map_err(|_| HashError("a hashing thread failed".into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let p = Passwords::new(8, 2).await.unwrap();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8,t=2,p=1$"));
        assert!(p.verify("correct horse", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong horse", Some(&h)).await.unwrap());
        assert!(!p.verify("correct horse", None).await.unwrap());
        assert!(!p.verify("x", Some("not a hash")).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_configured_number_of_hashes_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Condvar, Mutex};
        let p = Passwords::new(8, 2).await.unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (p, running, gate) = (p.clone(), running.clone(), gate.clone());
                tokio::spawn(async move {
                    p.run(move || {
                        running.fetch_add(1, Ordering::SeqCst);
                        let (open, cv) = &*gate;
                        let mut open = open.lock().unwrap();
                        while !*open {
                            open = cv.wait(open).unwrap();
                        }
                        drop(open);
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while running.load(Ordering::SeqCst) < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "two hashes never started"
            );
            tokio::task::yield_now().await;
        }
        // Both threads are busy, so the other four wait in the queue, not on the gate.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(running.load(Ordering::SeqCst), 2);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(running.load(Ordering::SeqCst), 0);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_the_lowest_priority() {
        let p = Passwords::new(8, 1).await.unwrap();
        let nice = p
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(nice, 19);
        let mine = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert!(mine < 19, "the caller's thread is left alone");
    }

    #[tokio::test]
    async fn default_cost_matches_the_design() {
        let p = Passwords::new(crate::config::DEFAULT_ARGON2_MEMORY_KIB, 1)
            .await
            .unwrap();
        assert!(p.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
