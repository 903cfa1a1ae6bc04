//! Gateway service tests: a real gateway on 127.0.0.1:0 in front of echo upstreams.
#![allow(clippy::unwrap_used)]

mod breaker;
mod early;
mod helpers;
mod local;
mod pipeline;
mod protection;
mod proxy;
mod raw;
mod smuggling;
mod wire;
