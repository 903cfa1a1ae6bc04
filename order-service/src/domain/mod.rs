//! Order domain: types, status rules and the event payloads, free of HTTP and SQL.

pub mod order;
pub mod status;

pub use order::{Order, OrderItem, PaymentChange, ShippingAddress, Transition};
pub use status::{OrderStatus, PaymentStatus};
