//! Logging setup (`RUST_LOG`, `LOG_FORMAT=json`) and the request id carried through a request's task,
//! so outbound calls forward it without threading it through every function.

use tracing_subscriber::{fmt, EnvFilter};

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Installs the global subscriber once (later calls are no-ops), writing to stdout. JSON lines when
/// `json` is true: an event's fields at the top level (every service's response line carries
/// `service`, `http.method`, `http.route`, `request_id`, `status` and `latency_ms` there), the
/// request's span, if any, under `span`. Text otherwise, coloured only on a terminal.
pub fn init(json: bool) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let result = if json {
        tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout))
            .map_err(drop)
    } else {
        fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stdout().is_terminal())
            .compact()
            .try_init()
            .map_err(drop)
    };
    // Already installed (tests, or the launcher starting several services): keep the first.
    let _ = result;
}

/// The JSON-lines subscriber of [`init`], writing to `writer`.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
        .finish()
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id.
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}
