//! The HTTP/1.1 wire codec of the client side, knowing nothing of the gateway's rules: request
//! heads parsed in place and checked strictly (`head`, `target`, `framing`), the chunked coding
//! (`chunked`), answer heads written (`write`), and the keep-alive connection loop (`conn`) over any
//! `AsyncRead + AsyncWrite` stream (`transport`), its request bodies (`body`) and its lingering
//! close (`linger`).

pub mod body;
pub mod chunked;
pub mod conn;
pub mod framing;
pub mod head;
pub mod linger;
pub mod target;
pub mod transport;
pub mod write;

pub use body::{BodySource, ClientBody};
pub use conn::{serve_connection, ClientConn, Exchange, HEADER_READ_TIMEOUT};
pub use framing::BodyFraming;
pub use head::{HeadError, RequestHead, Span};
pub use transport::Transport;
