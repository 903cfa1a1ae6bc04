//! Shutdown: a future that resolves on SIGTERM or Ctrl-C, and the readiness flag that flips while
//! a service drains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Cancels `token` when a shutdown signal arrives.
pub fn cancel_on_signal(token: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            _ = signal() => token.cancel(),
            _ = token.cancelled() => {},
        }
    })
}

/// Set once shutdown starts, so `/ready` answers 503 while in-flight requests finish; and how
/// long a service keeps accepting after that (`SHUTDOWN_DELAY_MS`), so that load balancers see
/// the 503 and stop sending before the listener closes.
#[derive(Clone, Default)]
pub struct Draining {
    started: Arc<AtomicBool>,
    delay: Duration,
}

impl Draining {
    /// A flag whose service goes on accepting for `delay` once draining starts.
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            started: Arc::default(),
            delay,
        }
    }
    /// Marks the service as draining.
    pub fn start(&self) {
        self.started.store(true, Ordering::SeqCst);
    }
    /// Whether the service is draining.
    pub fn is_draining(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }
    /// Waits for `shutdown`, marks the service as draining, then waits out the delay: when this
    /// returns, the service stops accepting.
    pub async fn begin(&self, shutdown: &CancellationToken) {
        shutdown.cancelled().await;
        self.start();
        if !self.delay.is_zero() {
            tracing::info!(
                delay_ms = self.delay.as_millis() as u64,
                "draining: /ready is 503"
            );
            tokio::time::sleep(self.delay).await;
        }
    }
}
