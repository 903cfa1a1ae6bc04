//! The service's `/health` report (`shared::health`'s shape, `database` up or down); the
//! operations routes themselves are `shared::ops`'s.

use crate::store::ProductStore;
use serde_json::Value;
use std::sync::Arc;

/// The `/health` answer: `database` says whether the store answered a ping (`up`) or not (`down`).
pub async fn report(store: Arc<dyn ProductStore>) -> Value {
    shared::health::database_report(crate::SERVICE, store.ping()).await
}
