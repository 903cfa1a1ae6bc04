//! One bounded, lazily built, reconnecting connection to Redis shared by the Redis backends, with a
//! short back-off after a connection failure and one warning per outage.

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, ErrorKind, RedisResult};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest any single Redis call (including connecting) may take.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// After a connection failure, calls fail at once for this long before Redis is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// A Redis call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisError {
    /// Redis could not be reached in time (down, hung, or backing off after a failure).
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// Redis answered with an error.
    #[error("redis refused the command: {0}")]
    Command(String),
    /// The URL could not be used.
    #[error("bad REDIS_URL: {0}")]
    BadUrl(String),
}

#[derive(Default)]
struct State {
    manager: Option<ConnectionManager>,
    /// When the current outage was first seen.
    down_since: Option<Instant>,
    /// No call tries Redis before this instant.
    retry_at: Option<Instant>,
}

struct Inner {
    client: Client,
    prefix: String,
    state: Mutex<State>,
}

/// A shared handle to one Redis server (cheap to clone).
#[derive(Clone)]
pub struct RedisLink(Arc<Inner>);

impl RedisLink {
    /// A link to `url` whose keys start with `prefix`. Does not connect.
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisError> {
        let client = Client::open(url).map_err(|e| RedisError::BadUrl(e.to_string()))?;
        Ok(Self(Arc::new(Inner {
            client,
            prefix: prefix.to_string(),
            state: Mutex::new(State::default()),
        })))
    }

    /// `<prefix><kind>:<key>`.
    pub fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.0.prefix)
    }

    /// Whether Redis answers `PING` within [`REDIS_TIMEOUT`]. Probes even during the back-off
    /// after a failure (so health is current), and a success ends the back-off for every backend.
    pub async fn ping(&self) -> bool {
        self.call(false, |mut c| async move {
            ::redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await
        .is_ok()
    }

    /// Whether the link currently considers Redis down (a recent call failed to reach it).
    pub fn is_down(&self) -> bool {
        self.state().down_since.is_some()
    }

    /// Runs `op` on the connection within [`REDIS_TIMEOUT`], recording outages and recoveries.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call(true, op).await
    }

    async fn call<T, F, Fut>(&self, respect_back_off: bool, op: F) -> Result<T, RedisError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let manager = self.manager(respect_back_off)?;
        match tokio::time::timeout(REDIS_TIMEOUT, op(manager)).await {
            Ok(Ok(v)) => {
                self.mark_up();
                Ok(v)
            }
            Ok(Err(e)) if matches!(e.kind(), ErrorKind::Server(_)) => {
                self.mark_up();
                Err(RedisError::Command(e.to_string()))
            }
            Ok(Err(e)) => Err(self.mark_down(e.to_string())),
            Err(_) => {
                Err(self.mark_down(format!("no answer within {} ms", REDIS_TIMEOUT.as_millis())))
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked (plain field writes).
        self.0
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn manager(&self, respect_back_off: bool) -> Result<ConnectionManager, RedisError> {
        let mut st = self.state();
        if let (true, Some(at)) = (respect_back_off, st.retry_at) {
            if Instant::now() < at {
                return Err(RedisError::Unavailable(
                    "backing off after a failure".into(),
                ));
            }
        }
        if let Some(m) = &st.manager {
            return Ok(m.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            // One attempt per connection; the link's own back-off decides when to try again.
            .set_number_of_retries(0);
        let m = ConnectionManager::new_lazy_with_config(self.0.client.clone(), config)
            .map_err(|e| RedisError::Unavailable(e.to_string()))?;
        st.manager = Some(m.clone());
        Ok(m)
    }

    fn mark_up(&self) {
        let mut st = self.state();
        st.retry_at = None;
        if let Some(since) = st.down_since.take() {
            tracing::info!(
                down_ms = since.elapsed().as_millis() as u64,
                "redis reachable again"
            );
        }
    }

    fn mark_down(&self, reason: String) -> RedisError {
        let mut st = self.state();
        // A fresh manager (new connection) on the next try; the old one may hold a hung socket.
        st.manager = None;
        st.retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
        if st.down_since.is_none() {
            st.down_since = Some(Instant::now());
            tracing::warn!(error = %reason, "redis unavailable");
        }
        RedisError::Unavailable(reason)
    }
}
