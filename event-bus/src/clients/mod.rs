//! What the bus sends to other services: deliveries to subscribers.

pub mod subscribers;
