//! Service tests: the product service served on 127.0.0.1:0 with an in-memory database (MongoDB
//! in `mongo.rs` when `MONGO_TEST_URL` is set), driven over HTTP with reqwest.
#![allow(clippy::unwrap_used)]

mod bodies;
mod bulk;
mod cache;
mod encoding;
mod health;
mod helpers;
mod list;
mod mongo;
mod products;
mod reservations;
