//! Refresh tokens: opaque random strings handed to clients, stored only as
//! HMAC-SHA256(`JWT_REFRESH_SECRET`, token) in hex, so a database leak yields no usable token.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Makes and hashes refresh tokens.
#[derive(Clone)]
pub struct RefreshTokens {
    key: Vec<u8>,
}

impl RefreshTokens {
    /// Tokens hashed under `secret`.
    pub fn new(secret: &str) -> Self {
        Self {
            key: secret.as_bytes().to_vec(),
        }
    }

    /// A fresh token (32 random bytes, hex) and its hash.
    pub fn generate(&self) -> (String, String) {
        let token = shared::ids::random_token(32);
        let hash = self.hash(&token);
        (token, hash)
    }

    /// The stored form of `token`.
    pub fn hash(&self, token: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_stable() {
        let a = RefreshTokens::new("k1-0123456789abcdef0123456789abcdef");
        let b = RefreshTokens::new("k2-0123456789abcdef0123456789abcdef");
        let (token, hash) = a.generate();
        assert_eq!(token.len(), 64);
        assert_eq!(hash.len(), 64);
        assert_ne!(token, hash);
        assert_eq!(a.hash(&token), hash);
        assert_ne!(b.hash(&token), hash);
    }
}
