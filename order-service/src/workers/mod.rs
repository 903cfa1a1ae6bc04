//! The background loops `build` starts beside the server (the outbox relay is `shared`'s).

mod release;

pub use release::ReleaseWorker;
