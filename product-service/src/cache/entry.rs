//! A product answer as a cache entry: one byte for whether the product is active, then the
//! answer's stored forms (`EncodedBody`'s framing).

use bytes::{BufMut, Bytes, BytesMut};
use shared::encoded::EncodedBody;

/// The `GET /api/products/:id` answer of one product, and whether anyone may see it (inactive
/// products are shown to admins only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAnswer {
    /// The product is active.
    pub active: bool,
    /// The `ok` envelope around the product JSON.
    pub body: EncodedBody,
}

impl ProductAnswer {
    /// Entry layout: one byte (1 active, 0 not), then the body's framing.
    pub(super) fn to_entry(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(1 + self.body.framed_len());
        out.put_u8(u8::from(self.active));
        self.body.write_to(&mut out);
        out.freeze()
    }

    pub(super) fn from_entry(entry: Bytes) -> Option<Self> {
        let active = match entry.first()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(Self {
            active,
            body: EncodedBody::read_from(entry.slice(1..))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_that_do_not_parse_are_misses() {
        let body = EncodedBody::new(Bytes::from_static(b"{\"success\":true}"));
        let answer = ProductAnswer { active: true, body };
        assert_eq!(
            ProductAnswer::from_entry(answer.to_entry()),
            Some(answer.clone())
        );
        let mut bad = answer.to_entry().to_vec();
        bad[0] = 7;
        assert_eq!(ProductAnswer::from_entry(Bytes::from(bad)), None);
        assert_eq!(ProductAnswer::from_entry(Bytes::new()), None);
        let truncated = answer.to_entry().slice(..5);
        assert_eq!(ProductAnswer::from_entry(truncated), None);
    }
}
