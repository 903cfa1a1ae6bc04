//! Answers kept ready to send: a body's identity bytes with its gzip and br forms compressed once,
//! a compact framing to keep them in a cache, and the `Accept-Encoding` negotiation that picks one
//! per request the way the standard `CompressionLayer` does (which never compresses them again).

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use std::convert::Infallible;
use std::io::Write;

/// Bodies of at least this many bytes are compressed (the standard layers use the same size);
/// smaller ones are always sent as they are, without `Vary`.
pub const COMPRESS_FROM: u16 = 1024;
/// Brotli quality of the stored br form: a 15 KB JSON page takes well under a millisecond, and
/// higher qualities cost several times more for a few per cent.
pub const BROTLI_QUALITY: i32 = 5;
/// Brotli window (log2 bytes); bodies this service stores are far smaller.
const BROTLI_WINDOW: i32 = 22;
/// Length prefixes of the framing: identity, gzip, br.
const FRAME_HEAD: usize = 12;

/// A content coding the services send. On equal q-values the later variant is preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coding {
    /// The bytes as they are.
    Identity,
    /// `gzip`.
    Gzip,
    /// `br`.
    Br,
}

impl Coding {
    fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            Some(Self::Gzip)
        } else if name.eq_ignore_ascii_case("br") {
            Some(Self::Br)
        } else if name.eq_ignore_ascii_case("identity") {
            Some(Self::Identity)
        } else {
            None
        }
    }

    /// The coding `headers` accept best, decided as tower-http's `CompressionLayer` decides: the
    /// highest q-value above 0 among gzip, br and identity (br, then gzip, on a tie); entries with
    /// an unknown coding (`*` included) or a malformed q-value are ignored; identity otherwise.
    pub fn preferred(headers: &HeaderMap) -> Self {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|item| {
                let mut parts = item.splitn(2, ';');
                let coding = Self::parse(parts.next()?.trim())?;
                let q = match parts.next() {
                    Some(q) => parse_q(q.trim())?,
                    None => 1000,
                };
                Some((q, coding))
            })
            .filter(|&(q, _)| q > 0)
            .max()
            .map_or(Self::Identity, |(_, coding)| coding)
    }

    fn header_value(self) -> Option<HeaderValue> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Br => Some(HeaderValue::from_static("br")),
        }
    }
}

/// A q-value in thousandths: `q=0`, `q=1`, `q=0.` followed by up to three digits, at most 1.
fn parse_q(s: &str) -> Option<u16> {
    let v = s.strip_prefix("q=").or_else(|| s.strip_prefix("Q="))?;
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .zip([100u16, 10, 1])
        .map(|(b, f)| u16::from(b - b'0') * f)
        .sum::<u16>();
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

/// What a request takes (extractor): the preferred coding, and whether it is a HEAD, which is
/// answered with the identity headers and no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedCoding {
    /// The coding to send when the body has that form.
    pub coding: Coding,
    /// A HEAD request.
    pub head: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for AcceptedCoding {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let head = parts.method == Method::HEAD;
        let coding = if head {
            Coding::Identity
        } else {
            Coding::preferred(&parts.headers)
        };
        Ok(Self { coding, head })
    }
}

/// A JSON body and its compressed forms (none under [`COMPRESS_FROM`] bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBody {
    identity: Bytes,
    gzip: Option<Bytes>,
    br: Option<Bytes>,
}

impl EncodedBody {
    /// Compresses `identity` (gzip at the default level, br at [`BROTLI_QUALITY`]) when it is at
    /// least [`COMPRESS_FROM`] bytes long.
    pub fn new(identity: Bytes) -> Self {
        let (gzip, br) = if identity.len() >= usize::from(COMPRESS_FROM) {
            (gzip(&identity), brotli(&identity))
        } else {
            (None, None)
        };
        Self { identity, gzip, br }
    }

    /// `identity` with no stored forms, for an answer sent once (nothing will store it): the
    /// compression layer then compresses it for the request that takes it.
    pub fn uncompressed(identity: Bytes) -> Self {
        Self {
            identity,
            gzip: None,
            br: None,
        }
    }

    /// The bytes as they are.
    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    /// The form in `coding`, if the body has it (identity always).
    pub fn form(&self, coding: Coding) -> Option<&Bytes> {
        match coding {
            Coding::Identity => Some(&self.identity),
            Coding::Gzip => self.gzip.as_ref(),
            Coding::Br => self.br.as_ref(),
        }
    }

    /// Bytes [`write_to`](Self::write_to) appends.
    pub fn framed_len(&self) -> usize {
        FRAME_HEAD + self.identity.len() + self.gzip_len() + self.br_len()
    }

    /// Appends the framing: three little-endian `u32` lengths (identity, gzip, br; 0 for an absent
    /// form), then the three forms.
    pub fn write_to(&self, out: &mut BytesMut) {
        out.reserve(self.framed_len());
        for len in [self.identity.len(), self.gzip_len(), self.br_len()] {
            out.put_u32_le(len as u32);
        }
        out.put_slice(&self.identity);
        for form in [&self.gzip, &self.br].into_iter().flatten() {
            out.put_slice(form);
        }
    }

    /// The framing alone, as one value to store.
    pub fn framed(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.framed_len());
        self.write_to(&mut out);
        out.freeze()
    }

    /// Reads what [`write_to`](Self::write_to) wrote; the forms share `framed`'s memory. `None`
    /// when the lengths do not add up.
    pub fn read_from(framed: Bytes) -> Option<Self> {
        let head = framed.get(..FRAME_HEAD)?;
        let len = |i: usize| -> Option<usize> {
            let b: [u8; 4] = head.get(i * 4..i * 4 + 4)?.try_into().ok()?;
            Some(u32::from_le_bytes(b) as usize)
        };
        let (id, gz, br) = (len(0)?, len(1)?, len(2)?);
        if FRAME_HEAD
            .checked_add(id)?
            .checked_add(gz)?
            .checked_add(br)?
            != framed.len()
        {
            return None;
        }
        let form = |from: usize, len: usize| (len > 0).then(|| framed.slice(from..from + len));
        Some(Self {
            identity: framed.slice(FRAME_HEAD..FRAME_HEAD + id),
            gzip: form(FRAME_HEAD + id, gz),
            br: form(FRAME_HEAD + id + gz, br),
        })
    }

    /// A 200 JSON answer in the accepted coding, when the body has that form: `Content-Encoding`
    /// set (so the compression layer leaves it alone), `Vary: Accept-Encoding` from
    /// [`COMPRESS_FROM`] bytes on. A HEAD gets the identity headers and no body.
    pub fn respond(&self, accepted: AcceptedCoding) -> Response {
        let (coding, bytes) = match self.form(accepted.coding) {
            Some(bytes) => (accepted.coding, bytes),
            None => (Coding::Identity, &self.identity),
        };
        let mut res = if accepted.head {
            // An empty body with the length a GET would send: the compression layer sizes the
            // body, finds nothing to compress, and the length stays.
            let mut res = Response::new(Body::empty());
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            res
        } else {
            Response::new(Body::from(bytes.clone()))
        };
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(value) = coding.header_value() {
            headers.insert(header::CONTENT_ENCODING, value);
        }
        if self.identity.len() >= usize::from(COMPRESS_FROM) {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        res
    }

    fn gzip_len(&self) -> usize {
        self.gzip.as_ref().map_or(0, Bytes::len)
    }

    fn br_len(&self) -> usize {
        self.br.as_ref().map_or(0, Bytes::len)
    }
}

/// The gzip form (`None` only if the encoder failed; the body is then sent as it is).
fn gzip(data: &[u8]) -> Option<Bytes> {
    let out = Vec::with_capacity(data.len() / 3);
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// The br form (`None` only if the encoder failed).
fn brotli(data: &[u8]) -> Option<Bytes> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW,
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 3);
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).ok()?;
    Some(Bytes::from(out))
}

#[cfg(test)]
#[path = "encoded_tests.rs"]
mod tests;
