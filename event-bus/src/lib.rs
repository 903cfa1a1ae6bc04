//! event-bus (being built).
