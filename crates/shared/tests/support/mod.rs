//! Test helpers for the Redis backends (shared cannot depend on test-support): `REDIS_TEST_URL`
//! (skip when unset, panic under `CI=true`), unique key prefixes, and a private `redis-server`
//! process on a free port for fault tests.

#![allow(
    clippy::print_stderr,
    reason = "a test says on stderr which backend variant it skips"
)]
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this is a CI run, where a missing server is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `REDIS_TEST_URL`, or `None` to skip (panics under `CI=true`).
pub fn redis_test_url() -> Option<String> {
    match std::env::var("REDIS_TEST_URL") {
        Ok(v) if !v.is_empty() => Some(v),
        _ if in_ci() => panic!("REDIS_TEST_URL must be set when CI=true"),
        _ => {
            eprintln!("REDIS_TEST_URL unset: skipping the Redis variant");
            None
        }
    }
}

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    format!("test:{test}:{}:", shared::ids::new_object_id())
}

/// Polls `check` every 20 ms until it returns true, failing after `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `redis-server` child process on its own port (killed on drop).
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// A free port with no server yet, or `None` (skip) when `redis-server` is not on PATH
    /// (panics under `CI=true`).
    pub fn reserve() -> Option<Self> {
        let on_path = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !on_path {
            assert!(!in_ci(), "redis-server must be on PATH when CI=true");
            eprintln!("redis-server not on PATH: skipping the fault test");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Some(Self { port, child: None })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server on the reserved port and waits until it answers.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let url = self.url();
        eventually("own redis-server to answer", Duration::from_secs(5), || {
            let url = url.clone();
            async move { ping(&url).await }
        })
        .await;
    }

    /// Kills the server and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid} failed");
    }

    /// SIGSTOP: the server keeps its socket but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.signal_quietly();
        }
        self.stop();
    }
}

impl OwnRedis {
    fn signal_quietly(&self) -> Option<()> {
        let pid = self.child.as_ref()?.id().to_string();
        Command::new("kill").args(["-CONT", &pid]).status().ok()?;
        Some(())
    }
}

/// A direct client, bypassing the backends, to check what they stored.
pub async fn direct(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// Deletes every key under `prefix`.
pub async fn delete_prefix(url: &str, prefix: &str) {
    let mut c = direct(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut c)
            .await
            .expect("DEL");
    }
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut c)) = tokio::time::timeout(
        Duration::from_millis(200),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut c)
        .await
        .is_ok()
}
