//! Service tests: the order service on a real port against stub product and bus services.
#![allow(clippy::unwrap_used)]

mod access;
mod create;
mod events;
mod helpers;
mod idempotency;
mod lifecycle;
mod mongo;
mod relay;
mod stubs;
