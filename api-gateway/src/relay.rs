//! Relaying an upstream's answer to the client: the head written by `policy::down` from the
//! upstream's bytes, the body streamed as it comes (`Content-Length` as sent; chunked re-chunked
//! for HTTP/1.1 clients; to the end of the connection for HTTP/1.0 clients or close-delimited
//! answers). Small answers already in hand go out with the head in one write.

use crate::codec::chunked::{encode_chunk, LAST_CHUNK};
use crate::codec::write::{bodiless, AnswerFraming};
use crate::codec::ClientConn;
use crate::codec::Transport;
use crate::pipeline::Req;
use crate::policy::down::answer_head;
use crate::proxy::Proxy;
use crate::upstream::Answer;
use futures_util::FutureExt;
use shared::rate_limit::{RateDecision, RuleHeaders};
use std::future::poll_fn;
use std::io;
use tokio::io::AsyncWriteExt;

/// Writes `answer` to the client; whether the connection may carry another request.
pub(crate) async fn relay<S: Transport>(
    conn: &mut ClientConn<S>,
    proxy: &Proxy,
    req: &Req,
    answer: Answer,
    rate: Option<(&RuleHeaders, &RateDecision)>,
) -> io::Result<bool> {
    let Answer {
        status,
        head,
        spans,
        facts,
        mut body,
    } = answer;
    let coded = facts.chunked || facts.other_coding;
    let framing = if bodiless(&req.head.method, status) || !coded && !body.is_close_delimited() {
        AnswerFraming::AsIs
    } else if body.is_chunked() && req.head.minor == 1 {
        AnswerFraming::Chunked
    } else {
        AnswerFraming::Close
    };
    let chunked = framing == AnswerFraming::Chunked;
    // An answer given before the whole request body was sent leaves the rest of that body
    // unread on the client connection: the connection ends after it, and says so.
    let close = req.closing || framing == AnswerFraming::Close || body.answered_early();
    let ctx = req.context(proxy, rate, close);
    answer_head(&mut conn.out, status, &head, &spans, &facts, framing, &ctx);
    // Small answers: the body is usually in hand already and goes out with the head.
    let mut finished = false;
    while let Some(piece) = poll_fn(|cx| body.poll_next(cx)).now_or_never() {
        match piece {
            Some(Ok(data)) => frame(&mut conn.out, &data, chunked),
            Some(Err(e)) => return broken(e),
            None => {
                finished = true;
                break;
            }
        }
    }
    if finished && chunked {
        conn.out.extend_from_slice(LAST_CHUNK);
    }
    conn.flush_out().await?;
    if !finished {
        loop {
            match poll_fn(|cx| body.poll_next(cx)).await {
                Some(Ok(data)) => {
                    conn.out.clear();
                    frame(&mut conn.out, &data, chunked);
                    conn.flush_out().await?;
                }
                Some(Err(e)) => return broken(e),
                None => break,
            }
        }
        if chunked {
            conn.stream.write_all(LAST_CHUNK).await?;
        }
    }
    Ok(!close)
}

/// A broken upstream body: the client sees the connection end early, never a complete answer.
fn broken(e: io::Error) -> io::Result<bool> {
    tracing::warn!(error = %e, "upstream body failed mid-answer");
    Err(e)
}

/// Appends body bytes, as a chunk when the answer is chunked.
fn frame(out: &mut Vec<u8>, data: &[u8], chunked: bool) {
    if chunked {
        encode_chunk(out, data);
    } else {
        out.extend_from_slice(data);
    }
}
