//! product-service (being built).
