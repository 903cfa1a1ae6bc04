//! The product service's errors and how each becomes the shared JSON error envelope.

use crate::store::ReserveError;
use shared::store::StoreError;
use shared::ApiError;

/// Everything a handler of this service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such product (or not visible to the caller).
    #[error("Product not found")]
    ProductNotFound,
    /// Another product has the SKU.
    #[error("Product with this SKU already exists")]
    SkuTaken,
    /// `isActive=false` asked by someone who is not an admin.
    #[error("Only admins may list inactive products")]
    InactiveListForbidden,
    /// A reservation could not be taken.
    #[error(transparent)]
    Reserve(#[from] ReserveError),
    /// An error already in envelope form (validation, extractors).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// A store failure on a product route: an unknown id is [`Error::ProductNotFound`], a
    /// uniqueness conflict [`Error::SkuTaken`].
    pub fn of_product(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::ProductNotFound,
            StoreError::Conflict(_) => Error::SkuTaken,
            other => Error::Store(other),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::ProductNotFound => ApiError::not_found("product_not_found", e.to_string()),
            Error::SkuTaken => ApiError::conflict("sku_taken", e.to_string()),
            Error::InactiveListForbidden => ApiError::forbidden(e.to_string()),
            Error::Reserve(e) => e.into(),
            Error::Api(e) => e,
            Error::Store(e) => e.into(),
        }
    }
}

shared::respond_with_api_error!(Error);

impl From<ReserveError> for ApiError {
    fn from(e: ReserveError) -> Self {
        match e {
            ReserveError::ProductNotFound(id) => {
                ApiError::not_found("product_not_found", format!("Product {id} not found"))
            }
            ReserveError::InsufficientStock(name) => ApiError::conflict(
                "insufficient_stock",
                format!("Insufficient stock for {name}"),
            ),
            ReserveError::Released(order) => ApiError::conflict(
                "reservation_released",
                format!("Reservation for order {order} was already released"),
            ),
            ReserveError::ReservationNotFound(_) => {
                ApiError::not_found("reservation_not_found", "Reservation not found")
            }
            ReserveError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests;
