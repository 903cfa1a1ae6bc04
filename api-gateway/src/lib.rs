//! api-gateway (being built).
