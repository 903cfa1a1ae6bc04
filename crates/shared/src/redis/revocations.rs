//! Ended sessions in Redis: `SET <prefix>revoked:<sid> 1 PX <ttl>` and `EXISTS`. Failures are
//! errors, so callers fail closed.

use super::link::RedisLink;
use crate::auth::{RevocationError, Revocations};
use async_trait::async_trait;
use std::time::Duration;

/// Revocations shared by every replica through Redis.
pub struct RedisRevocations {
    link: RedisLink,
}

impl RedisRevocations {
    /// Revocations over `link`.
    pub fn new(link: RedisLink) -> Self {
        Self { link }
    }
}

#[async_trait]
impl Revocations for RedisRevocations {
    async fn revoke_session(&self, sid: &str, ttl: Duration) -> Result<(), RevocationError> {
        let key = self.link.key("revoked", sid);
        // PX must be positive; a token with no lifetime left is kept 1 ms.
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
            .map_err(|e| RevocationError(e.to_string()))
    }

    async fn is_session_revoked(&self, sid: &str) -> Result<bool, RevocationError> {
        let key = self.link.key("revoked", sid);
        self.link
            .run(|mut c| async move {
                ::redis::cmd("EXISTS")
                    .arg(key)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|n| n > 0)
            .map_err(|e| RevocationError(e.to_string()))
    }
}
