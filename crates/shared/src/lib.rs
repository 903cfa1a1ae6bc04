//! Cross-cutting building blocks every service uses: configuration, the JSON error envelope and
//! extractors, HTTP layers, tokens, payload encryption, rate limits, cache, retry, events, storage.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod app;
pub mod auth;
pub mod binary;
pub mod cache;
pub mod client;
pub mod config;
pub mod encoded;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod ids;
pub mod json;
pub mod metrics;
pub mod money;
pub mod mongo;
pub mod openapi;
pub mod ops;
pub mod payload;
pub mod platform;
pub mod rate_limit;
pub mod redis;
pub mod retry;
pub mod server;
pub mod sessions;
pub mod shutdown;
pub mod spelled;
pub mod sqlite;
pub mod store;
pub mod telemetry;
pub mod unread;
pub mod validate;

pub use error::{ApiError, FieldError};
