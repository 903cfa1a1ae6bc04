//! The use cases behind the routes: accounts (register, login, logout), sessions (open, rotate,
//! end), password hashing and refresh tokens.

pub mod accounts;
pub mod password;
pub mod sessions;
pub mod tokens;
