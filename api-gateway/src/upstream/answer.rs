//! An upstream's answer head: parsed with `httparse` into its status, the positions of its headers
//! and the facts of its framing (`Content-Length`, chunked, close-delimited, keep-alive).

use super::body::{Framing, PooledBody};
use super::pool::PoolError;
use crate::codec::chunked::ChunkedDecoder;
use crate::codec::framing::ConnectionOptions;
use crate::codec::Span;
use bytes::Bytes;
use hyper::{Method, StatusCode};

/// Largest upstream response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most header lines accepted in an upstream response head.
const MAX_HEADERS: usize = 100;

/// An upstream answer: its head as received, where each header lies in it, what its framing is,
/// and its body (which re-pools the connection at its end).
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The raw head (status line and headers).
    pub head: Bytes,
    /// Where each header lies in `head`.
    pub spans: Vec<Span>,
    /// Framing and connection facts of the head.
    pub facts: Facts,
    /// The body.
    pub body: PooledBody,
}

/// What a response head says about its body and its connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// The upstream keeps the connection open.
    pub keep_alive: bool,
    /// The body is chunked.
    pub chunked: bool,
    /// `Transfer-Encoding` present but not ending in `chunked`: the body runs to end of stream.
    pub other_coding: bool,
    /// `Content-Length`, unless a transfer coding overrides it.
    pub length: Option<u64>,
    /// A `Connection` header names other headers (hop-by-hop too, so not to be relayed).
    pub connection_names: bool,
}

impl Facts {
    /// Reads the framing headers of a scanned head.
    pub(super) fn of(head: &[u8], spans: &[Span], version: u8) -> Result<Self, PoolError> {
        let mut facts = Facts::default();
        let mut connection = ConnectionOptions::default();
        for &(ns, ne, vs, ve) in spans {
            let name = &head[ns as usize..ne as usize];
            let raw = &head[vs as usize..ve as usize];
            if name.eq_ignore_ascii_case(b"transfer-encoding") {
                let last = raw.rsplit(|b| *b == b',').next().unwrap_or_default();
                facts.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
                facts.other_coding = !facts.chunked;
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let n = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or(PoolError::Protocol("bad content-length"))?;
                if facts.length.is_some_and(|l| l != n) {
                    return Err(PoolError::Protocol("conflicting content-length"));
                }
                facts.length = Some(n);
            } else if name.eq_ignore_ascii_case(b"connection") {
                connection.add(raw);
            }
        }
        facts.keep_alive = connection.keeps_alive(version);
        facts.connection_names = connection.names_others;
        if facts.chunked || facts.other_coding {
            // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
            facts.length = None;
        }
        Ok(facts)
    }

    pub(super) fn framing(&self, method: &Method, status: StatusCode) -> Framing {
        if method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Framing::Empty;
        }
        if self.chunked {
            return Framing::Chunked(ChunkedDecoder::default());
        }
        match self.length {
            Some(n) if !self.other_coding => Framing::Length(n),
            _ => Framing::Close,
        }
    }
}

/// Finds a complete response head at the front of `buf`: its status, length and HTTP minor
/// version, with the header positions in `spans`; `None` when more bytes are needed.
pub(super) fn scan_head(
    buf: &[u8],
    spans: &mut Vec<Span>,
) -> Result<Option<(StatusCode, usize, u8)>, PoolError> {
    // Uninitialised header slots: nothing to zero on every response.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
            return Err(PoolError::Protocol("response head too large"))
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(PoolError::Protocol("response head too large"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(PoolError::Protocol("malformed response head")),
    };
    let status = res
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(PoolError::Protocol("bad status code"))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(PoolError::Protocol("unexpected protocol switch"));
    }
    let base = buf.as_ptr() as usize;
    spans.clear();
    for h in res.headers.iter() {
        let name = (h.name.as_ptr() as usize - base) as u32;
        let value = (h.value.as_ptr() as usize - base) as u32;
        spans.push((
            name,
            name + h.name.len() as u32,
            value,
            value + h.value.len() as u32,
        ));
    }
    Ok(Some((status, len, res.version.unwrap_or(1))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bytes::BytesMut;

    struct Head {
        status: StatusCode,
        names: Vec<String>,
        facts: Facts,
    }

    impl Head {
        fn framing(&self, method: &Method) -> Framing {
            self.facts.framing(method, self.status)
        }
    }

    fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, PoolError> {
        let mut spans = Vec::new();
        let Some((status, len, version)) = scan_head(buf, &mut spans)? else {
            return Ok(None);
        };
        let facts = Facts::of(&buf[..len], &spans, version)?;
        let head = buf.split_to(len).freeze();
        let names = crate::codec::head::headers(&head, &spans)
            .map(|(n, _)| String::from_utf8_lossy(n).to_lowercase())
            .collect();
        Ok(Some(Head {
            status,
            names,
            facts,
        }))
    }

    fn parsed(raw: &str) -> (Head, BytesMut) {
        let mut buf = BytesMut::from(raw.as_bytes());
        let head = parse_head(&mut buf).unwrap().unwrap();
        (head, buf)
    }

    #[test]
    fn a_head_is_parsed_and_the_body_left_in_the_buffer() {
        let (head, rest) = parsed(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\nx-a: 1\r\nx-a: 2\r\n\r\n{}",
        );
        assert_eq!(head.status, 201);
        assert_eq!(head.facts.length, Some(2));
        assert!(head.facts.keep_alive);
        assert_eq!(head.names.iter().filter(|n| *n == "x-a").count(), 2);
        assert_eq!(&rest[..], b"{}");
        assert!(matches!(head.framing(&Method::GET), Framing::Length(2)));
        assert!(matches!(head.framing(&Method::HEAD), Framing::Empty));
    }

    #[test]
    fn partial_heads_wait_for_more_and_garbage_is_refused() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-le"[..]);
        assert!(parse_head(&mut buf).unwrap().is_none());
        let mut buf = BytesMut::from(&b"SMTP ready\r\n\r\n"[..]);
        assert!(parse_head(&mut buf).is_err());
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"[..],
        );
        assert!(parse_head(&mut buf).is_err());
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 1));
        assert!(parse_head(&mut BytesMut::from(&huge[..])).is_err());
    }

    #[test]
    fn chunked_wins_over_content_length_and_close_ends_keep_alive() {
        let (head, _) = parsed(
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n",
        );
        assert!(head.facts.chunked);
        assert!(!head.facts.keep_alive);
        assert_eq!(head.facts.length, None);
        let (head, _) = parsed("HTTP/1.0 200 OK\r\n\r\n");
        assert!(!head.facts.keep_alive);
        assert!(matches!(head.framing(&Method::GET), Framing::Close));
        let (head, _) = parsed("HTTP/1.1 204 No Content\r\n\r\n");
        assert!(matches!(head.framing(&Method::GET), Framing::Empty));
    }
}
