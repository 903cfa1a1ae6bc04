//! The bus's domain: subscribers, stored events and their per-subscriber deliveries.

pub mod event;
pub mod subscriber;

pub use event::{Counts, DeadDelivery, Delivery, DeliveryStatus, DueDelivery, StoredEvent};
pub use subscriber::{parse_subscription, Subscriber, Subscription};
