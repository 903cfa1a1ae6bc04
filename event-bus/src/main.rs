//! event-bus binary.
fn main() {}
