//! Payment domain types and rules, free of HTTP and SQL.

pub mod payment;

pub use payment::{NewPayment, Payment, PaymentMethod, PaymentStatus};
