//! The use cases behind the routes: publishing events (stored with their deliveries, handed to
//! the delivery workers) and replaying one.

pub mod events;
