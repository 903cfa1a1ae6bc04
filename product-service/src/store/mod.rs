//! Persistence of products and stock reservations behind one trait, so that SQLite (embedded) and
//! MongoDB (production) pass the same contract suite. `connect` picks the backend by URL scheme.

mod mongo;
mod shapes;
mod sqlite;

pub use mongo::{MongoProductStore, DEFAULT_DATABASE};
pub use sqlite::SqliteProductStore;

use crate::domain::{
    NewProduct, Product, ProductFilter, ProductPatch, Reservation, ReservationLine,
    ReservationStatus, ReservedItem,
};
use async_trait::async_trait;
use shared::mongo::MongoOptions;
use shared::store::{Backend, PageRequest, StoreError};
use std::sync::Arc;

/// Why a reservation or release did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// A line names an unknown or inactive product.
    #[error("product {0} not found")]
    ProductNotFound(String),
    /// A line asks for more than is in stock (the product's name).
    #[error("insufficient stock for {0}")]
    InsufficientStock(String),
    /// The order's reservation was released already and cannot be taken again.
    #[error("reservation {0} was released")]
    Released(String),
    /// No reservation exists for the order.
    #[error("reservation {0} not found")]
    ReservationNotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of `reserve`: the reservation, and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    /// The order's reservation.
    pub reservation: Reservation,
    /// False when an earlier call had already reserved for this order (nothing was taken now).
    pub created: bool,
}

impl Reserved {
    /// The reservation just made for `order_id`: `items` taken now.
    pub fn made(order_id: &str, items: Vec<ReservedItem>) -> Self {
        Self {
            reservation: Reservation {
                order_id: order_id.to_string(),
                status: ReservationStatus::Reserved,
                items,
            },
            created: true,
        }
    }
}

/// Products and reservations.
#[async_trait]
pub trait ProductStore: Send + Sync {
    /// Inserts a product with a fresh id and timestamps; `Conflict` when the SKU exists.
    async fn create(&self, new: NewProduct) -> Result<Product, StoreError>;

    /// The product with `id`, active or not.
    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError>;

    /// One page of active products matching `filter`, and the total number of matches.
    async fn list(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, u64), StoreError>;

    /// The active products among `ids`, in the order of `ids`; unknown ids are left out.
    async fn get_active_many(&self, ids: &[String]) -> Result<Vec<Product>, StoreError>;

    /// Applies `patch` and returns the new product; `NotFound` for an unknown id, `Conflict`
    /// when the new SKU belongs to another product.
    async fn update(&self, id: &str, patch: ProductPatch) -> Result<Product, StoreError>;

    /// Takes stock for `order_id`, all or nothing: each (merged) line is one conditional decrement
    /// `stock >= quantity` of an active product; on a failed line nothing stays taken. Repeating it
    /// for the same order returns the existing reservation without touching stock.
    async fn reserve(
        &self,
        order_id: &str,
        lines: &[ReservationLine],
    ) -> Result<Reserved, ReserveError>;

    /// Puts the order's stock back exactly once. `Ok(true)` when stock was returned now,
    /// `Ok(false)` when it had been released before.
    async fn release(&self, order_id: &str) -> Result<bool, ReserveError>;

    /// The reservation of `order_id`, if any.
    async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store named by `url` (running migrations or creating indexes): `sqlite:` or
/// `mongodb://` / `mongodb+srv://` (with `mongo` for pool size and server selection).
pub async fn connect(url: &str, mongo: MongoOptions) -> Result<Arc<dyn ProductStore>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Arc::new(SqliteProductStore::connect(url).await?),
        Backend::Mongo => Arc::new(MongoProductStore::connect(url, mongo).await?),
    })
}
