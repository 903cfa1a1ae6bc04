//! The use cases behind the routes, in terms of the domain, the store and the clients, and the
//! events the service emits.

mod changes;
pub mod events;
mod orders;

pub use changes::cancel;
pub use orders::{place_order, Placed};
