//! Upgrades of data stored by an earlier version, each run once per database before its indexes
//! are ensured (and so before the store serves): the ones done are recorded in the collection
//! [`UPGRADES`] by name. An upgrade must be idempotent: two replicas starting together may both
//! run it. It rewrites documents written by the earlier version, so replicas of that version
//! must be stopped before the first replica of the new one starts.

use crate::store::{now_ms, StoreError};
use futures_util::future::BoxFuture;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;

/// Where the upgrades done are recorded (`{_id: name, applied_at}`).
pub const UPGRADES: &str = "upgrades";

/// One upgrade: a name that never changes and the work.
#[derive(Clone, Copy)]
pub struct Upgrade {
    /// Its record in [`UPGRADES`].
    pub name: &'static str,
    /// The work.
    pub run: for<'a> fn(&'a Database) -> BoxFuture<'a, Result<(), StoreError>>,
}

/// Runs the upgrades of `upgrades` that `db` has not recorded, in order, recording each.
pub(super) async fn apply(db: &Database, upgrades: &[Upgrade]) -> Result<(), StoreError> {
    let done = db.collection::<Document>(UPGRADES);
    for upgrade in upgrades {
        if done.find_one(doc! {"_id": upgrade.name}).await?.is_some() {
            continue;
        }
        tracing::info!(upgrade = upgrade.name, "upgrading stored data");
        (upgrade.run)(db).await?;
        // Recorded once: a replica that ran it at the same time may record it first.
        let record = doc! {"_id": upgrade.name, "applied_at": now_ms()};
        if let Err(e) = done.insert_one(record).await {
            if !super::is_duplicate_key(&e) {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// `field` in snake_case (`zipCode` → `zip_code`); `_id` and snake_case names are unchanged.
pub fn snake_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `d` with every field name in snake_case, in embedded documents and arrays too.
pub fn snake_case_keys(d: Document) -> Document {
    d.into_iter()
        .map(|(k, v)| (snake_case(&k), snake_case_value(v)))
        .collect()
}

fn snake_case_value(v: Bson) -> Bson {
    match v {
        Bson::Document(d) => Bson::Document(snake_case_keys(d)),
        Bson::Array(items) => Bson::Array(items.into_iter().map(snake_case_value).collect()),
        other => other,
    }
}

/// Replaces every document of `collection` that `change` alters by what it returns; the count
/// of documents replaced.
pub async fn rewrite(
    db: &Database,
    collection: &str,
    change: impl Fn(Document) -> Document,
) -> Result<u64, StoreError> {
    let coll = db.collection::<Document>(collection);
    let all: Vec<Document> = coll.find(doc! {}).await?.try_collect().await?;
    let mut replaced = 0;
    for d in all {
        let Some(id) = d.get("_id").cloned() else {
            continue;
        };
        let changed = change(d.clone());
        if changed != d {
            coll.replace_one(doc! {"_id": id}, changed).await?;
            replaced += 1;
        }
    }
    Ok(replaced)
}

/// Drops the indexes of `collection` with a key in camelCase: they index names no longer
/// written (and one may hold a name the store now gives an index on the new names).
pub async fn drop_camel_case_indexes(db: &Database, collection: &str) -> Result<(), StoreError> {
    let coll = db.collection::<Document>(collection);
    let indexes: Vec<mongodb::IndexModel> = match coll.list_indexes().await {
        Ok(cursor) => cursor.try_collect().await?,
        Err(e) if super::indexes::namespace_not_found(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for index in indexes {
        let camel = index
            .keys
            .keys()
            .any(|k| k.chars().any(|c| c.is_ascii_uppercase()));
        if let (true, Some(name)) = (camel, index.options.and_then(|o| o.name)) {
            coll.drop_index(name).await?;
        }
    }
    Ok(())
}

/// Renames the fields of every document of `collections` to snake_case (after `also`, which
/// sees the renamed document) and drops their indexes on camelCase keys.
pub async fn to_snake_case(
    db: &Database,
    collections: &[&str],
    also: impl Fn(&str, Document) -> Document,
) -> Result<(), StoreError> {
    for collection in collections {
        drop_camel_case_indexes(db, collection).await?;
        let n = rewrite(db, collection, |d| also(collection, snake_case_keys(d))).await?;
        if n > 0 {
            tracing::info!(
                collection,
                documents = n,
                "stored fields renamed to snake_case"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_become_snake_case_at_every_depth() {
        assert_eq!(snake_case("zipCode"), "zip_code");
        assert_eq!(snake_case("_id"), "_id");
        assert_eq!(snake_case("created_at"), "created_at");
        let d = doc! {
            "_id": "a",
            "totalCents": 5_i64,
            "shippingAddress": {"zipCode": "1"},
            "items": [{"productId": "p", "priceCents": 1_i64}],
            "eventIds": ["x"],
        };
        assert_eq!(
            snake_case_keys(d),
            doc! {
                "_id": "a",
                "total_cents": 5_i64,
                "shipping_address": {"zip_code": "1"},
                "items": [{"product_id": "p", "price_cents": 1_i64}],
                "event_ids": ["x"],
            }
        );
    }
}
