//! Service tests: the payment service on a real port, with stub order service and event bus.
#![allow(clippy::unwrap_used)]

mod basics;
mod events;
mod helpers;
mod lifecycle;
mod mongo;
mod process;
mod refund;
mod scripted;
