//! The response body of the gateway's hand-written server: an upstream body streamed through
//! untouched, or a body made locally by axum (health, dev tools, errors). No boxing on the proxy path.

use crate::pool::PooledBody;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Error of either body kind.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: streamed from an upstream, or produced by the gateway itself.
pub enum GatewayBody {
    /// Relayed frame by frame from the upstream service.
    Upstream(PooledBody),
    /// Produced by the gateway (axum responses, JSON errors).
    Local(axum::body::Body),
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        // Both variants are `Unpin`, so plain re-pinning is enough.
        match self.get_mut() {
            GatewayBody::Upstream(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            GatewayBody::Local(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            GatewayBody::Upstream(b) => b.is_end_stream(),
            GatewayBody::Local(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            GatewayBody::Upstream(b) => b.size_hint(),
            GatewayBody::Local(b) => b.size_hint(),
        }
    }
}
