//! api-gateway binary.
fn main() {}
