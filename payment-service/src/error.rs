//! The service's own errors and how each becomes the shared JSON error envelope.

use shared::store::StoreError;
use shared::ApiError;

/// What can go wrong while charging or refunding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider refused a refund (after retries).
    #[error("refund failed: {0}")]
    RefundFailed(String),
    /// The service is shutting down; the work is given back for any replica to resume.
    #[error("shutting down")]
    ShuttingDown,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(s) => s.into(),
            Error::RefundFailed(reason) => {
                tracing::warn!(%reason, "refund failed");
                ApiError::new(
                    axum::http::StatusCode::BAD_GATEWAY,
                    "refund_failed",
                    "Refund processing failed",
                )
            }
            Error::ShuttingDown => ApiError::unavailable("Payment service is shutting down"),
        }
    }
}

#[cfg(test)]
mod tests;
