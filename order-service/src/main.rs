//! order-service binary.
fn main() {}
