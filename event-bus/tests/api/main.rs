//! Service tests of the event bus against a real server on 127.0.0.1:0 with stub subscribers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod delivery;
mod helpers;
mod lifecycle;
mod mongo;
mod publish;
mod queries;
