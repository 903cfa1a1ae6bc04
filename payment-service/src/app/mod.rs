//! The use cases behind the routes and the worker: charging and refunding through the provider.

mod processor;

pub use processor::{provider_policy, Processor};
