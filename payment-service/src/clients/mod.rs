//! Typed callers of other services and of the payment provider.

pub mod orders;
pub mod provider;
