//! Catalogue writes (admin): create, change and retire products. Each invalidates the cached reads
//! once the database has the change.

use crate::domain::{NewProduct, Product, ProductPatch};
use crate::error::Error;
use crate::state::AppState;

/// Creates a product; a taken SKU is [`Error::SkuTaken`].
pub async fn create(state: &AppState, new: NewProduct) -> Result<Product, Error> {
    let product = state.store.create(new).await.map_err(Error::of_product)?;
    state.cache.invalidate().await;
    Ok(product)
}

/// Applies `patch` to product `id` (a replace, a patch or the soft delete).
pub async fn update(state: &AppState, id: &str, patch: ProductPatch) -> Result<Product, Error> {
    let product = state
        .store
        .update(id, patch)
        .await
        .map_err(Error::of_product)?;
    state.cache.invalidate().await;
    Ok(product)
}
