//! auth-service binary.
fn main() {}
