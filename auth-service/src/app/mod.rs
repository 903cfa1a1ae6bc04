//! The use cases behind the routes: sessions (open, rotate, end), password hashing and refresh
//! tokens.

pub mod password;
pub mod sessions;
pub mod tokens;
