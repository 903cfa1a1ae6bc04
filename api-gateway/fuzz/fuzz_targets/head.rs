//! Fuzzes the strict request-head parser (`codec::head::parse`) with arbitrary bytes.
//!
//! Properties: it never panics; a parsed head lies inside the buffer (its length, every header
//! span, the target and the path end), its target is `*` or passes `is_valid_target`, chunked
//! framing only over HTTP/1.1; parsing the head's own bytes again gives the same head, and no
//! shorter prefix of it parses as a complete head; a refusal is 400, 417, 431 or 501.

#![no_main]

use api_gateway::codec::head::{self, RequestHead};
use api_gateway::codec::target::is_valid_target;
use api_gateway::codec::BodyFraming;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check(data));

fn check(buf: &[u8]) {
    match head::parse(buf) {
        Ok(None) => {}
        Ok(Some(h)) => {
            check_head(buf, &h);
            check_reparse(buf, &h);
            check_prefixes(buf, &h);
        }
        Err(e) => {
            let status = e.status.as_u16();
            assert!(
                matches!(status, 400 | 417 | 431 | 501),
                "refused with status {status} ({e:?})"
            );
        }
    }
}

/// Everything a parsed head points at lies inside its own bytes, and holds what was checked.
fn check_head(buf: &[u8], h: &RequestHead) {
    assert!(
        h.len <= buf.len(),
        "head len {} > buffer {}",
        h.len,
        buf.len()
    );
    assert!(h.len > 0, "empty head");
    assert!(h.minor <= 1, "minor version {}", h.minor);
    for &(ns, ne, vs, ve) in &h.spans {
        let (ns, ne, vs, ve) = (ns as usize, ne as usize, vs as usize, ve as usize);
        assert!(
            ns <= ne && ne <= h.len && vs <= ve && ve <= h.len,
            "span {:?} outside head of len {}",
            (ns, ne, vs, ve),
            h.len
        );
        assert!(ns < ne, "empty header name at {ns}");
        assert!(ne <= vs, "value before its name: {:?}", (ns, ne, vs, ve));
    }
    let (ts, te) = h.target;
    assert!(
        ts <= te && te <= h.len,
        "target {:?} outside head of len {}",
        h.target,
        h.len
    );
    assert!(
        ts <= h.path_end && h.path_end <= te,
        "path end {} outside target {:?}",
        h.path_end,
        h.target
    );
    let head = &buf[..h.len];
    let target = h.target(head);
    assert!(
        target == b"*" || is_valid_target(target),
        "target {:?} passed the parser",
        String::from_utf8_lossy(target)
    );
    if h.body == BodyFraming::Chunked {
        assert_eq!(h.minor, 1, "chunked framing over HTTP/1.{}", h.minor);
    }
    if let BodyFraming::Length(n) = h.body {
        assert!(n > 0, "Length(0) framing");
        assert!(h.had_length, "Length framing without Content-Length");
    }
    if h.expect_continue {
        assert_eq!(h.minor, 1, "100-continue over HTTP/1.{}", h.minor);
    }
    // The accessors index with the spans: they must not panic either.
    let _ = h.path(head);
    let _ = h.header(head, "host");
    let _ = h.is_preflight(head);
    assert_eq!(head::headers(head, &h.spans).count(), h.spans.len());
}

/// The head's own bytes parse to the same head (the parser reads nothing after it).
fn check_reparse(buf: &[u8], h: &RequestHead) {
    let again = match head::parse(&buf[..h.len]) {
        Ok(Some(again)) => again,
        other => panic!(
            "head of len {} parsed from the full buffer, but its own bytes gave {other:?}",
            h.len
        ),
    };
    assert_eq!(again.len, h.len, "re-parse changed the length");
    assert_eq!(again.method, h.method);
    assert_eq!(again.target, h.target);
    assert_eq!(again.path_end, h.path_end);
    assert_eq!(again.minor, h.minor);
    assert_eq!(again.spans, h.spans);
    assert_eq!(again.body, h.body);
    assert_eq!(again.keep_alive, h.keep_alive);
    assert_eq!(again.expect_continue, h.expect_continue);
    assert_eq!(again.had_length, h.had_length);
    assert_eq!(again.connection_names, h.connection_names);
}

/// A prefix shorter than the head never parses as a complete head of another length (a head
/// arriving in pieces must end where it ends when it arrives at once).
fn check_prefixes(buf: &[u8], h: &RequestHead) {
    let check = |cut: usize| {
        if let Ok(Some(short)) = head::parse(&buf[..cut]) {
            assert_eq!(
                short.len, h.len,
                "prefix of {cut} bytes parsed as a head of {} bytes, the full buffer as {}",
                short.len, h.len
            );
        }
    };
    if h.len <= 256 {
        (0..h.len).for_each(check);
    } else {
        // Cheap spread of cut points: the line ends and a few fixed fractions.
        let mut cuts: Vec<usize> = buf[..h.len]
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n' || **b == b'\r')
            .flat_map(|(i, _)| [i, i + 1])
            .filter(|&i| i < h.len)
            .take(256)
            .collect();
        cuts.extend([0, 1, h.len / 4, h.len / 2, h.len - 2, h.len - 1]);
        cuts.into_iter().for_each(check);
    }
}
