//! payment-service binary.
fn main() {}
