//! Typed callers of other services.

pub mod products;

pub use products::ProductsClient;
