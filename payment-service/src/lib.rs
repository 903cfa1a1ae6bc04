//! payment-service (being built).
