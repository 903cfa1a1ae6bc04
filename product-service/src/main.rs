//! product-service binary.
fn main() {}
