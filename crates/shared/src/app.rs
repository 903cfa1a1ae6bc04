//! The shape every service's `build` returns: its fully layered router, the draining flag `/ready`
//! reads, the `/health` view and the background loops to run beside the server, with one `run`.

use crate::health::HealthView;
use crate::shutdown::Draining;
use anyhow::Context;
use axum::Router;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::future::Future;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A background loop, started by [`App::run`] with a token cancelled when serving ends.
type Worker = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// A built service, ready to serve.
pub struct App {
    name: &'static str,
    router: Router,
    draining: Draining,
    health: HealthView,
    workers: Vec<(&'static str, Worker)>,
}

impl App {
    /// A service called `name` answering through `router`, reporting `health`, marking `draining`
    /// when shutdown starts.
    pub fn new(name: &'static str, router: Router, draining: Draining, health: HealthView) -> Self {
        Self {
            name,
            router,
            draining,
            health,
            workers: Vec::new(),
        }
    }

    /// Adds a background loop called `what` (for the log when it panics): `start` gets a token that
    /// is cancelled once the server has stopped, and the loop is awaited before [`App::run`] returns.
    pub fn worker<F, Fut>(mut self, what: &'static str, start: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.workers
            .push((what, Box::new(move |stop| Box::pin(start(stop)))));
        self
    }

    /// The fully layered router (for oneshot tests).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` is cancelled; `/ready` answers 503 once it starts
    /// draining while in-flight requests finish. The background loops run on a child token
    /// (cancelled too if serving fails on its own, never the caller's token: the launcher shares it
    /// between services) and are all awaited; a loop that panicked makes the result an error.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let stop = shutdown.child_token();
        let mut running = JoinSet::new();
        let mut names = HashMap::new();
        for (what, start) in self.workers {
            names.insert(running.spawn(start(stop.clone())).id(), what);
        }
        let served = crate::server::serve(
            listener,
            self.router,
            shutdown,
            self.draining,
            Some(self.health),
        )
        .await;
        stop.cancel();
        let mut panicked = None;
        while let Some(joined) = running.join_next().await {
            if let Err(e) = joined {
                let what = names.get(&e.id()).copied().unwrap_or("background loop");
                tracing::error!(error = %e, service = self.name, what, "background loop panicked");
                panicked = Some((what, e));
            }
        }
        served.with_context(|| format!("serving {}", self.name))?;
        match panicked {
            Some((what, e)) => Err(e).with_context(|| format!("{what} of {} panicked", self.name)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn app() -> App {
        let health = HealthView::new(Duration::from_secs(60), &json!({}), || async { json!({}) });
        App::new("test-service", Router::new(), Draining::default(), health)
    }

    async fn listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    #[tokio::test]
    async fn workers_are_stopped_and_awaited_when_serving_ends() {
        let finished = Arc::new(AtomicBool::new(false));
        let seen = finished.clone();
        let app = app().worker("a loop", move |stop| async move {
            stop.cancelled().await;
            tokio::task::yield_now().await;
            seen.store(true, Ordering::SeqCst);
        });
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        app.run(listener().await, shutdown.clone()).await.unwrap();
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_panicked_worker_makes_run_fail_with_its_name() {
        let app = app()
            .worker(
                "the quiet loop",
                |stop| async move { stop.cancelled().await },
            )
            .worker("the broken loop", |_| async { panic!("boom") });
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let e = app.run(listener().await, shutdown).await.unwrap_err();
        assert_eq!(e.to_string(), "the broken loop of test-service panicked");
    }
}
