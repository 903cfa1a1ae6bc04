//! The use cases behind the routes: catalogue writes and stock reservations, each keeping the read
//! cache in step with the database (every change of a product or its stock moves the cache
//! generation after the write).

pub mod catalogue;
pub mod reservations;
