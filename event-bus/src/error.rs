//! The bus's errors and how each becomes the shared JSON error envelope.

use shared::store::StoreError;
use shared::ApiError;

/// Everything a handler of the bus can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No stored event has this id.
    #[error("Event {0} not found")]
    EventNotFound(String),
    /// An error already in envelope form (validation, extractors, internal faults).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::EventNotFound(_) => ApiError::not_found("event_not_found", e.to_string()),
            Error::Api(e) => e,
            Error::Store(e) => e.into(),
        }
    }
}

shared::respond_with_api_error!(Error);

#[cfg(test)]
mod tests;
