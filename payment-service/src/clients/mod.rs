//! Typed callers of other services.

pub mod orders;
