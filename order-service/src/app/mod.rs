//! The use cases behind the routes, in terms of the domain, the store and the clients.

mod orders;

pub use orders::{place_order, Placed};
