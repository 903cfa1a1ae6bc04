//! order-service (being built).
