//! How the service's failures become the shared JSON error envelope.

use crate::store::ReserveError;
use shared::store::StoreError;
use shared::ApiError;

/// 404 `product_not_found` "Product not found".
pub fn product_not_found() -> ApiError {
    ApiError::not_found("product_not_found", "Product not found")
}

/// A store failure on a product route: unknown id → 404, uniqueness → 409 `sku_taken`.
pub fn product_store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => product_not_found(),
        StoreError::Conflict(_) => {
            ApiError::conflict("sku_taken", "Product with this SKU already exists")
        }
        other => other.into(),
    }
}

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
