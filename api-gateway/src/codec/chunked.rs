//! The chunked transfer coding (RFC 9112 §7.1), decoded strictly and incrementally as bytes arrive
//! (client request bodies and upstream answers alike): chunk sizes of at most 15 hex digits, chunk
//! extensions held to their grammar (then skipped), CRLF line ends everywhere (a bare LF is an
//! error, never a line end), trailers read, bounded and dropped. Also the chunk framing written.

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk-size line (digits and extensions) and longest trailer section accepted.
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// What one decoding step produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// The buffer is used up before the body ended: read more.
    NeedMore,
    /// The last chunk and the trailers have been read.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size (`digits` seen so far).
    Size { value: u64, digits: u8 },
    /// Chunk extensions after a size, up to CR.
    Extension { value: u64, at: Ext },
    /// LF after the size line.
    SizeLf { value: u64 },
    /// Chunk data left.
    Data(u64),
    /// CR after chunk data.
    DataCr,
    /// LF after chunk data.
    DataLf,
    /// Start of a trailer line, or the final CRLF.
    TrailerStart,
    /// Inside a trailer line, up to CR.
    Trailer,
    /// LF ending a trailer line.
    TrailerLf,
    /// LF of the final CRLF.
    EndLf,
    /// Finished.
    Done,
}

/// Where a chunk-extension parse is: `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ext {
    /// Between extensions: blanks, `;` or the line end.
    Sep,
    /// After `;`: blanks, then a name.
    NameStart,
    /// In a name.
    Name,
    /// After a name and blanks: `=`, `;` or the line end.
    AfterName,
    /// After `=`: blanks, then a token or a quoted string.
    ValueStart,
    /// In a token value.
    Token,
    /// In a quoted string.
    Quoted,
    /// After a backslash in a quoted string.
    Escaped,
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Ext {
    /// Whether the extensions may end here.
    fn may_end(self) -> bool {
        matches!(self, Ext::Sep | Ext::Name | Ext::AfterName | Ext::Token)
    }

    /// The state after `b`, or `None` when `b` is not allowed here.
    fn next(self, b: u8) -> Option<Ext> {
        let blank = b == b' ' || b == b'\t';
        let text = blank || (0x21..=0x7e).contains(&b) || b >= 0x80;
        Some(match self {
            Ext::Sep if blank => Ext::Sep,
            Ext::Sep if b == b';' => Ext::NameStart,
            Ext::NameStart if blank => Ext::NameStart,
            Ext::NameStart | Ext::Name if is_tchar(b) => Ext::Name,
            Ext::Name | Ext::AfterName if blank => Ext::AfterName,
            Ext::Name | Ext::AfterName | Ext::Token if b == b';' => Ext::NameStart,
            Ext::Name | Ext::AfterName if b == b'=' => Ext::ValueStart,
            Ext::ValueStart if blank => Ext::ValueStart,
            Ext::ValueStart if b == b'"' => Ext::Quoted,
            Ext::ValueStart | Ext::Token if is_tchar(b) => Ext::Token,
            Ext::Token if blank => Ext::Sep,
            Ext::Quoted if b == b'"' => Ext::Sep,
            Ext::Quoted if b == b'\\' => Ext::Escaped,
            Ext::Quoted | Ext::Escaped if text => Ext::Quoted,
            _ => return None,
        })
    }
}

/// Appends `data` as one chunk (nothing for empty data: an empty chunk would end the body).
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk, with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// An incremental chunked-body decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes of the current size line or of the trailers, to bound them.
    line: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            line: 0,
        }
    }
}

impl ChunkedDecoder {
    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing bytes from `buf` and returns the next piece of body data, `NeedMore` when
    /// `buf` ran out first, or `Done` at the end of the body (bytes after it stay in `buf`).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, &'static str> {
        loop {
            if let State::Data(left) = self.state {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                let rest = left - n as u64;
                self.state = if rest == 0 {
                    State::DataCr
                } else {
                    State::Data(rest)
                };
                return Ok(Decoded::Data(buf.split_to(n).freeze()));
            }
            if self.state == State::Done {
                return Ok(Decoded::Done);
            }
            let Some(&byte) = buf.first() else {
                return Ok(Decoded::NeedMore);
            };
            buf.advance(1);
            self.step(byte)?;
        }
    }

    fn step(&mut self, byte: u8) -> Result<(), &'static str> {
        self.state = match self.state {
            State::Size { value, digits } => {
                self.bump(MAX_LINE)?;
                match (byte as char).to_digit(16) {
                    Some(d) if digits < 15 => State::Size {
                        value: value * 16 + u64::from(d),
                        digits: digits + 1,
                    },
                    Some(_) => return Err("chunk size too large"),
                    None if digits == 0 => return Err("chunk size missing"),
                    None => match byte {
                        b'\r' => State::SizeLf { value },
                        b' ' | b'\t' => State::Extension {
                            value,
                            at: Ext::Sep,
                        },
                        b';' => State::Extension {
                            value,
                            at: Ext::NameStart,
                        },
                        _ => return Err("invalid chunk size"),
                    },
                }
            }
            State::Extension { value, at } => {
                self.bump(MAX_LINE)?;
                if byte == b'\r' && at.may_end() {
                    State::SizeLf { value }
                } else {
                    State::Extension {
                        value,
                        at: at.next(byte).ok_or("invalid chunk extension")?,
                    }
                }
            }
            State::SizeLf { value } => {
                if byte != b'\n' {
                    return Err("expected LF after chunk size");
                }
                self.line = 0;
                if value == 0 {
                    State::TrailerStart
                } else {
                    State::Data(value)
                }
            }
            State::DataCr if byte == b'\r' => State::DataLf,
            State::DataLf if byte == b'\n' => State::Size {
                value: 0,
                digits: 0,
            },
            State::DataCr | State::DataLf => return Err("expected CRLF after chunk data"),
            State::TrailerStart => {
                self.bump(MAX_TRAILERS)?;
                match byte {
                    b'\r' => State::EndLf,
                    b'\n' => return Err("bare LF in trailers"),
                    _ => State::Trailer,
                }
            }
            State::Trailer => {
                self.bump(MAX_TRAILERS)?;
                match byte {
                    b'\r' => State::TrailerLf,
                    b'\n' => return Err("bare LF in trailers"),
                    _ => State::Trailer,
                }
            }
            State::TrailerLf if byte == b'\n' => State::TrailerStart,
            State::EndLf if byte == b'\n' => State::Done,
            State::TrailerLf | State::EndLf => return Err("expected LF in trailers"),
            State::Data(_) | State::Done => return Err("invalid chunk state"),
        };
        Ok(())
    }

    fn bump(&mut self, limit: usize) -> Result<(), &'static str> {
        self.line += 1;
        if self.line > limit {
            Err("chunk framing too long")
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the body and what is left after it.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
        let mut d = ChunkedDecoder::default();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut pieces = input.chunks(step);
        loop {
            match d.decode(&mut buf)? {
                Decoded::Data(b) => body.extend_from_slice(&b),
                Decoded::Done => {
                    let rest = [&buf[..], &pieces.flatten().copied().collect::<Vec<_>>()].concat();
                    return Ok((body, rest));
                }
                Decoded::NeedMore => match pieces.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return Err("truncated"),
                },
            }
        }
    }

    #[test]
    fn chunks_extensions_and_trailers_decode_at_any_split() {
        let wire = b"5;name=val ; b = \"q\\\"x;\" ;c\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, wire.len()] {
            let (body, rest) = decode_all(wire, step).unwrap();
            assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            assert_eq!(rest, b"NEXT", "step {step}");
        }
    }

    #[test]
    fn an_empty_body_is_just_the_last_chunk() {
        assert_eq!(decode_all(b"0\r\n\r\n", 1).unwrap(), (vec![], vec![]));
    }

    #[test]
    fn malformed_framing_is_an_error() {
        for bad in [
            &b"\r\n"[..],
            b"zz\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"fffffffffffffffff\r\n",
            b"0\r\nbad\ntrailer\r\n\r\n",
            b"0\r\nX-T: 1\nGET / HTTP/1.1\r\n\r\n",
            b"5;a\"b\r\nhello\r\n0\r\n\r\n",
            b"5;\r\nhello\r\n0\r\n\r\n",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"open\r\nhello\r\n0\r\n\r\n",
            b"5;a\0\r\nhello\r\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
        ] {
            assert!(
                decode_all(bad, 1).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long_ext = [b"1;".as_slice(), &[b'e'; MAX_LINE], b"\r\n"].concat();
        assert!(decode_all(&long_ext, 64).is_err());
    }

    #[test]
    fn a_truncated_body_needs_more() {
        assert_eq!(decode_all(b"5\r\nhel", 2), Err("truncated"));
    }
}
