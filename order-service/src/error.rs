//! The order service's errors and how each becomes the shared JSON error envelope.

use crate::domain::{OrderStatus, PaymentStatus};
use axum::http::StatusCode;
use shared::store::StoreError;
use shared::ApiError;

/// Everything a use case or handler of this service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such order, or not the caller's.
    #[error("Order not found")]
    OrderNotFound,
    /// The idempotency key names an earlier request with another body.
    #[error("Idempotency-Key was already used with a different request body")]
    IdempotencyKeyReused,
    /// Cancellation of an order past `confirmed`.
    #[error("Cannot cancel order in status {}", .0.as_str())]
    NotCancellable(OrderStatus),
    /// A fulfilment step that does not follow from the order's status.
    #[error("Cannot change order status from {} to {}", .from.as_str(), .to.as_str())]
    InvalidTransition {
        /// The order's status.
        from: OrderStatus,
        /// The status asked for.
        to: OrderStatus,
    },
    /// A fulfilment step while the payment is not `completed`.
    #[error("Cannot change order status to {}: payment is {}", .to.as_str(), .payment.as_str())]
    PaymentNotCompleted {
        /// The status asked for.
        to: OrderStatus,
        /// The order's payment status.
        payment: PaymentStatus,
    },
    /// An error already in envelope form (validation, extractors, the product service's answer).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::OrderNotFound => ApiError::not_found("order_not_found", message),
            Error::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                message,
            ),
            Error::NotCancellable(_) | Error::InvalidTransition { .. } => {
                ApiError::conflict("invalid_status_transition", message)
            }
            Error::PaymentNotCompleted { .. } => {
                ApiError::conflict("payment_not_completed", message)
            }
            Error::Api(e) => e,
            Error::Store(e) => e.into(),
        }
    }
}

shared::respond_with_api_error!(Error);

#[cfg(test)]
mod tests;
