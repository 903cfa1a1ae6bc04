//! Fuzzes the incremental chunked-body decoder (`codec::chunked::ChunkedDecoder`).
//!
//! Input: the first byte chooses how the rest (the wire bytes) is cut into pieces; the rest is fed
//! (a) all at once and (b) piece by piece. Properties: it never panics; both ways end the same
//! (same body, same error or none, same bytes left after the body); the body is never longer than
//! the input; after `Done` the bytes left are exactly the input's suffix after the body, and the
//! framing up to there decodes on its own to the same body with nothing left.

#![no_main]

use api_gateway::codec::chunked::{ChunkedDecoder, Decoded};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, wire)) = data.split_first() else {
        return;
    };
    check(split, wire);
});

/// How a decoding ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// `Done`, with the bytes left after the body.
    Done { rest: Vec<u8> },
    /// The decoder refused the framing.
    Error(&'static str),
    /// The input ran out before the body ended.
    Truncated,
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    body: Vec<u8>,
    end: End,
}

fn check(split: u8, wire: &[u8]) {
    let whole = decode(wire, &[wire.len()]);
    let pieces = piece_lengths(split, wire.len());
    let piecewise = decode(wire, &pieces);
    assert_eq!(
        whole,
        piecewise,
        "all at once vs in pieces {pieces:?} of {:?}",
        String::from_utf8_lossy(wire)
    );
    assert!(whole.body.len() <= wire.len(), "body longer than input");
    if let End::Done { rest } = &whole.end {
        assert!(
            wire.ends_with(rest),
            "bytes left after Done are not a suffix of the input"
        );
        let framing = &wire[..wire.len() - rest.len()];
        assert!(
            whole.body.len() <= framing.len(),
            "body longer than its framing"
        );
        // The body ends where it ends whatever follows it.
        let alone = decode(framing, &[framing.len()]);
        assert_eq!(
            alone,
            Outcome {
                body: whole.body.clone(),
                end: End::Done { rest: Vec::new() },
            },
            "the framing alone decodes differently"
        );
        // One byte fewer is never a complete body.
        if let Some((_, short)) = framing.split_last() {
            let cut = decode(short, &[short.len()]);
            assert!(
                !matches!(cut.end, End::Done { .. }),
                "framing minus its last byte is complete"
            );
        }
    }
}

/// Piece lengths (summing to `len`) drawn from `split`: `0` is one byte at a time, below 128 a
/// fixed step of `split` bytes, from 128 up varying lengths (0 included: an empty read) from a
/// small generator seeded with `split`.
fn piece_lengths(split: u8, len: usize) -> Vec<usize> {
    let mut pieces = Vec::new();
    let mut left = len;
    let mut state = u32::from(split) | 0x9e37_0000;
    while left > 0 {
        let n = match split {
            0 => 1,
            1..=127 => usize::from(split),
            _ => {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % (u32::from(split - 127) + 1)) as usize
            }
        };
        let n = n.min(left);
        pieces.push(n);
        left -= n;
    }
    pieces
}

/// Feeds `wire` cut into `pieces` to a fresh decoder, as a connection would: more bytes are read
/// only when the decoder asks for them.
fn decode(wire: &[u8], pieces: &[usize]) -> Outcome {
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut at = 0;
    let mut next = pieces.iter();
    // Bounds the loop: every call consumes a byte, yields data, or asks for more.
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(
            calls <= 2 * wire.len() + pieces.len() + 4,
            "decoder made no progress"
        );
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Decoded::Data(data)) => {
                assert!(!data.is_empty(), "empty Data");
                // Framing bytes may be taken first, in the same call.
                assert!(
                    before - buf.len() >= data.len(),
                    "Data not taken from the buffer"
                );
                body.extend_from_slice(&data);
            }
            Ok(Decoded::Done) => {
                assert!(decoder.is_done());
                // Done again, and nothing more taken.
                assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Done));
                let mut rest = buf.to_vec();
                rest.extend_from_slice(&wire[at..]);
                return Outcome {
                    body,
                    end: End::Done { rest },
                };
            }
            Ok(Decoded::NeedMore) => {
                assert!(
                    buf.is_empty(),
                    "NeedMore with {} bytes in the buffer",
                    buf.len()
                );
                match next.next() {
                    Some(&n) => {
                        buf.extend_from_slice(&wire[at..at + n]);
                        at += n;
                    }
                    None => {
                        return Outcome {
                            body,
                            end: End::Truncated,
                        }
                    }
                }
            }
            Err(e) => {
                return Outcome {
                    body,
                    end: End::Error(e),
                }
            }
        }
    }
}
