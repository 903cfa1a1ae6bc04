use super::*;
use axum::body::Body;
use axum::routing::get;
use tower::ServiceExt;

fn app() -> Router {
    let r = misbehaving_routes()
        .route("/big", get(|| async { "x".repeat(4096) }))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    standard_layers(
        r,
        &HttpOptions {
            service: "test",
            allowed_origins: vec![],
            request_timeout: Duration::from_millis(100),
        },
        crate::metrics::Metrics::new("test", "0.0.0"),
    )
}

async fn call(uri: &str, method: Method, headers: &[(&str, &str)]) -> Response {
    let mut b = axum::http::Request::builder().uri(uri).method(method);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    app().oneshot(b.body(Body::empty()).unwrap()).await.unwrap()
}

async fn json(res: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// What a JSON log subscriber wrote.
#[derive(Clone, Default)]
struct Written(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Written {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Written {
    type Writer = Written;

    fn make_writer(&'a self) -> Written {
        self.clone()
    }
}

#[tokio::test]
async fn the_json_response_line_has_its_fields_at_the_top_level() {
    let written = Written::default();
    let filter = tracing_subscriber::EnvFilter::new("info");
    let subscriber = crate::telemetry::json_subscriber(filter, written.clone());
    let _logging = tracing::subscriber::set_default(subscriber);
    let res = call("/big", Method::GET, &[("x-request-id", "req-42")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["message"] == "response")
        .unwrap_or_else(|| panic!("no response line in {text}"));
    assert_eq!(line["service"], "test", "{line}");
    assert_eq!(line["http.method"], "GET", "{line}");
    assert_eq!(line["http.route"], "/big", "{line}");
    assert_eq!(line["request_id"], "req-42", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["latency_ms"].is_number(), "{line}");
    assert!(
        line.get("fields").is_none() && line.get("span").is_none(),
        "{line}"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json() {
    let res = call("/nope", Method::GET, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(json(res).await["code"], "route_not_found");
    let res = call("/big", Method::DELETE, &[]).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(res).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn panics_and_timeouts_become_json() {
    let res = call("/panic", Method::GET, &[]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json(res).await["error"], "Something went wrong");
    let res = call("/slow", Method::GET, &[]).await;
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn security_headers_request_id_and_compression() {
    let res = call(
        "/big",
        Method::GET,
        &[("accept-encoding", "gzip"), ("x-request-id", "abc-1")],
    )
    .await;
    assert_eq!(res.headers()["x-request-id"], "abc-1");
    assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

/// The response lines requests for `paths` leave at log filter `filter`, as (route, level).
async fn response_lines(filter: &str, paths: &[(Method, &str)]) -> Vec<(String, String)> {
    let written = Written::default();
    let subscriber = crate::telemetry::json_subscriber(
        tracing_subscriber::EnvFilter::new(filter),
        written.clone(),
    );
    let _logging = tracing::subscriber::set_default(subscriber);
    for (method, path) in paths {
        call(path, method.clone(), &[]).await;
    }
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["message"] == "response")
        .map(|v| (v["http.route"].to_string(), v["level"].to_string()))
        .collect()
}

#[tokio::test]
async fn probes_answered_are_logged_at_debug_refused_ones_at_info_failed_ones_at_warn() {
    let line = |route: &str, level: &str| (format!("{route:?}"), format!("{level:?}"));
    let get = |path| (Method::GET, path);
    assert_eq!(
        response_lines(
            "info",
            &[
                get("/health"),
                get("/ready"),
                get("/big"),
                (Method::DELETE, "/health")
            ]
        )
        .await,
        [
            line("/ready", "WARN"),
            line("/big", "INFO"),
            line("/health", "INFO")
        ]
    );
    assert_eq!(
        response_lines("debug", &[get("/health")]).await,
        [line("/health", "DEBUG")]
    );
}
