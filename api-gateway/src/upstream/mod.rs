//! The upstream side of the proxy: per service a pool of keep-alive HTTP/1.1 connections (`pool`),
//! one exchange on them (`exchange`: request head and streamed body out, answer head in), the
//! answer's head (`answer`) and its body relayed from the socket by the task that serves the client
//! (`body`: no connection task, no channels), and a circuit breaker per upstream (`breaker`).

pub mod answer;
pub mod body;
pub mod breaker;
pub mod exchange;
pub mod pool;

pub use answer::{Answer, Facts};
pub use body::PooledBody;
pub use breaker::{Breaker, BreakerSettings, BreakerState, Ticket};
pub use exchange::RequestBody;
pub use pool::{Pool, PoolError};
