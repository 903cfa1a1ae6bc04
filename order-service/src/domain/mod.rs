//! Order domain: types and status rules, free of HTTP, JSON, SQL and BSON.

pub mod order;
pub mod status;

pub use order::{
    NewOrder, Order, OrderItem, OrderLine, PaymentChange, PaymentEvent, ShippingAddress, Transition,
};
pub use status::{OrderStatus, PaymentStatus};
