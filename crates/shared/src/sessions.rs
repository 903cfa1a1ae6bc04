//! The sessions every service checks on every authenticated request. The auth service opens a
//! session when it issues tokens and ends it at logout; a token is accepted only while its session
//! is known to be live. A session the shared set does not know (after a restart, a Redis flush, or
//! a token minted for a made-up session id) is asked of the [`SessionAuthority`] — the auth
//! service — and refused unless it answers that the session is live.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clock slack added to every session entry's lifetime.
pub const SESSION_SLACK: Duration = Duration::from_secs(60);

/// How long a session entry is kept after a token was issued in it (or after it ended): the
/// longest an access token lives, plus clock slack.
pub const SESSION_TTL: Duration =
    Duration::from_secs(crate::auth::ACCESS_TOKEN_TTL_SECS as u64 + SESSION_SLACK.as_secs());

/// A session backend could not answer.
#[derive(Debug, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct SessionError(pub String);

/// What a session set knows of a session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Opened and not ended.
    Live,
    /// Ended (logout, reuse of a refresh token, user disabled).
    Ended,
    /// Never seen here, or forgotten since.
    Unknown,
}

/// The shared set of live and ended sessions.
#[async_trait]
pub trait SessionRegistry: Send + Sync {
    /// Marks `sid` live for `ttl`. A session already ended stays ended.
    async fn open_session(&self, sid: &str, ttl: Duration) -> Result<(), SessionError>;
    /// Marks `sid` ended for `ttl` (the longest time a token of it can still be valid).
    async fn revoke_session(&self, sid: &str, ttl: Duration) -> Result<(), SessionError>;
    /// What is known of `sid`.
    async fn session_state(&self, sid: &str) -> Result<SessionState, SessionError>;
    /// True when this set is itself the authority (it never answers `Unknown`).
    fn is_authoritative(&self) -> bool {
        false
    }
}

/// Decides about a session the registry does not know.
#[async_trait]
pub trait SessionAuthority: Send + Sync {
    /// Whether `sid` is a live session.
    async fn is_live(&self, sid: &str) -> Result<bool, SessionError>;
}

/// In-process sessions: shared by all services when they run in one process.
#[derive(Default)]
pub struct MemorySessions {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    /// sid → (ended, kept until).
    entries: HashMap<String, (bool, Instant)>,
    /// Expired entries are swept once the map reaches this size (amortised, not per insert).
    sweep_at: usize,
}

impl MemoryInner {
    fn set(&mut self, sid: &str, ended: bool, ttl: Duration) {
        let now = Instant::now();
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, (_, until)| *until > now);
            self.sweep_at = (self.entries.len() * 2).max(1024);
        }
        let until = now + ttl;
        let entry = self
            .entries
            .entry(sid.to_string())
            .or_insert((ended, until));
        let live_ended = entry.0 && entry.1 > now;
        if ended || !live_ended {
            *entry = (ended || live_ended, until.max(entry.1));
        }
    }
}

impl MemorySessions {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>, SessionError> {
        self.inner
            .lock()
            .map_err(|_| SessionError("lock poisoned".into()))
    }
}

#[async_trait]
impl SessionRegistry for MemorySessions {
    async fn open_session(&self, sid: &str, ttl: Duration) -> Result<(), SessionError> {
        self.lock()?.set(sid, false, ttl);
        Ok(())
    }

    async fn revoke_session(&self, sid: &str, ttl: Duration) -> Result<(), SessionError> {
        self.lock()?.set(sid, true, ttl);
        Ok(())
    }

    async fn session_state(&self, sid: &str) -> Result<SessionState, SessionError> {
        let inner = self.lock()?;
        Ok(match inner.entries.get(sid) {
            Some((ended, until)) if *until > Instant::now() => {
                if *ended {
                    SessionState::Ended
                } else {
                    SessionState::Live
                }
            }
            _ => SessionState::Unknown,
        })
    }
}

/// Sessions asked of the auth service (`GET /internal/sessions/:sid`), each answer kept 1 s: the
/// registry of a service that runs alone without Redis, and the authority of every other one.
pub struct RemoteSessions {
    client: crate::client::ServiceClient,
    cache: moka::future::Cache<String, bool>,
}

impl RemoteSessions {
    /// Asks the auth service through `client`.
    pub fn new(client: crate::client::ServiceClient) -> Self {
        Self {
            client,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(1))
                .build(),
        }
    }
}

#[async_trait]
impl SessionAuthority for RemoteSessions {
    async fn is_live(&self, sid: &str) -> Result<bool, SessionError> {
        if let Some(hit) = self.cache.get(sid).await {
            return Ok(hit);
        }
        let v: serde_json::Value = self
            .client
            .get_json(&format!("/internal/sessions/{sid}"), None)
            .await
            .map_err(|e| SessionError(e.to_string()))?;
        let live = v["data"]["revoked"].as_bool() == Some(false);
        self.cache.insert(sid.to_string(), live).await;
        Ok(live)
    }
}

#[async_trait]
impl SessionRegistry for RemoteSessions {
    /// The auth service's database already holds the session: nothing to record here.
    async fn open_session(&self, _sid: &str, _ttl: Duration) -> Result<(), SessionError> {
        Ok(())
    }

    async fn revoke_session(&self, _sid: &str, _ttl: Duration) -> Result<(), SessionError> {
        Err(SessionError(
            "sessions are ended by the auth service".into(),
        ))
    }

    async fn session_state(&self, sid: &str) -> Result<SessionState, SessionError> {
        Ok(if self.is_live(sid).await? {
            SessionState::Live
        } else {
            SessionState::Ended
        })
    }

    fn is_authoritative(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_sessions_are_unknown_live_then_ended_and_stay_ended() {
        let s = MemorySessions::default();
        let ttl = Duration::from_secs(60);
        assert_eq!(s.session_state("a").await.unwrap(), SessionState::Unknown);
        s.open_session("a", ttl).await.unwrap();
        assert_eq!(s.session_state("a").await.unwrap(), SessionState::Live);
        s.revoke_session("a", ttl).await.unwrap();
        // A token issued in a race with the logout must not bring the session back.
        s.open_session("a", ttl).await.unwrap();
        assert_eq!(s.session_state("a").await.unwrap(), SessionState::Ended);
        s.revoke_session("b", ttl).await.unwrap();
        assert_eq!(s.session_state("b").await.unwrap(), SessionState::Ended);
    }

    #[tokio::test]
    async fn memory_sessions_forget_expired_entries() {
        let s = MemorySessions::default();
        s.open_session("gone", Duration::ZERO).await.unwrap();
        assert_eq!(
            s.session_state("gone").await.unwrap(),
            SessionState::Unknown
        );
        s.revoke_session("x", Duration::ZERO).await.unwrap();
        s.open_session("x", Duration::from_secs(60)).await.unwrap();
        assert_eq!(s.session_state("x").await.unwrap(), SessionState::Live);
        for i in 0..3000 {
            s.open_session(&i.to_string(), Duration::ZERO)
                .await
                .unwrap();
        }
        assert!(
            s.lock().unwrap().entries.len() < 2100,
            "expired entries are swept"
        );
    }
}
