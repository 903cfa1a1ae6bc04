//! Order domain: types, status rules and the event payloads, free of HTTP and SQL.

pub mod order;

pub use order::{
    Order, OrderItem, OrderStatus, PaymentChange, PaymentStatus, ShippingAddress, Transition,
};
