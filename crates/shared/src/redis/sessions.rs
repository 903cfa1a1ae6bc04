//! Sessions in Redis: `SET <prefix>session:<sid> 1 PX <ttl>` when a token is issued,
//! `SET <prefix>revoked:<sid> 1 PX <ttl>` when the session ends, and one `MGET` of both per check
//! (an ended session wins). Failures are errors, so callers fail closed.

use super::link::RedisLink;
use crate::sessions::{SessionError, SessionRegistry, SessionState};
use async_trait::async_trait;
use std::time::Duration;

/// Sessions shared by every replica through Redis.
pub struct RedisSessions {
    link: RedisLink,
}

impl RedisSessions {
    /// Sessions over `link`.
    pub fn new(link: RedisLink) -> Self {
        Self { link }
    }

    async fn set(&self, kind: &str, sid: &str, ttl: Duration) -> Result<(), SessionError> {
        let key = self.link.key(kind, sid);
        // PX must be positive; an entry with no lifetime left is kept 1 ms.
        let ms = (ttl.as_millis() as u64).max(1);
        self.link
            .run(|mut c| async move {
                ::redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
            .map_err(|e| SessionError(e.to_string()))
    }
}

#[async_trait]
impl SessionRegistry for RedisSessions {
    async fn open_session(&self, sid: &str, ttl: Duration) -> Result<(), SessionError> {
        self.set("session", sid, ttl).await
    }

    async fn revoke_session(&self, sid: &str, ttl: Duration) -> Result<(), SessionError> {
        self.set("revoked", sid, ttl).await
    }

    async fn session_state(&self, sid: &str) -> Result<SessionState, SessionError> {
        let keys = [self.link.key("revoked", sid), self.link.key("session", sid)];
        let found = self
            .link
            .run(|mut c| async move {
                ::redis::cmd("MGET")
                    .arg(&keys[..])
                    .query_async::<Vec<Option<String>>>(&mut c)
                    .await
            })
            .await
            .map_err(|e| SessionError(e.to_string()))?;
        Ok(match found.as_slice() {
            [Some(_), _] => SessionState::Ended,
            [None, Some(_)] => SessionState::Live,
            [None, None] => SessionState::Unknown,
            other => {
                return Err(SessionError(format!(
                    "MGET answered {} values",
                    other.len()
                )))
            }
        })
    }
}
