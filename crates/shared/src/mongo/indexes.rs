//! The indexes of a MongoDB store, ensured once per process (after the store's pending
//! [`Upgrade`]s of stored data): at connect when the server answers, else before the first
//! operation that needs them (the service starts with MongoDB down and answers 503 meanwhile). Indexes that exist already, by name, are left alone: FerretDB v1.24
//! drops the connection on a `createIndexes` of an existing index, and nothing is rebuilt.

use super::upgrade::{self, Upgrade};
use crate::store::StoreError;
use mongodb::bson::{Bson, Document};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use tokio::sync::OnceCell;

/// One index: its collection, its keys, whether it is unique, and its name (`None`: the name the
/// server gives, `field_1_other_-1`, which is how indexes created without one are recognised).
#[derive(Debug, Clone)]
pub struct IndexSpec {
    /// The collection.
    pub collection: &'static str,
    /// The keys in order, each `1` or `-1`.
    pub keys: Document,
    /// A unique index.
    pub unique: bool,
    /// The name, when the store chose one.
    pub name: Option<&'static str>,
}

impl IndexSpec {
    /// A non-unique index named `name`.
    pub fn named(collection: &'static str, name: &'static str, keys: Document) -> Self {
        Self {
            collection,
            keys,
            unique: false,
            name: Some(name),
        }
    }

    /// A non-unique index with the server's default name.
    pub fn keys(collection: &'static str, keys: Document) -> Self {
        Self {
            collection,
            keys,
            unique: false,
            name: None,
        }
    }

    /// The same index, unique.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// The name the index has on the server.
    pub fn server_name(&self) -> String {
        match self.name {
            Some(name) => name.to_owned(),
            None => self
                .keys
                .iter()
                .map(|(field, order)| match order {
                    Bson::Int32(n) => format!("{field}_{n}"),
                    Bson::Int64(n) => format!("{field}_{n}"),
                    other => format!("{field}_{other}"),
                })
                .collect::<Vec<_>>()
                .join("_"),
        }
    }

    fn model(&self) -> IndexModel {
        let mut options = IndexOptions::default();
        options.name = self.name.map(str::to_owned);
        options.unique = self.unique.then_some(true);
        IndexModel::builder()
            .keys(self.keys.clone())
            .options(options)
            .build()
    }
}

/// A store's indexes and whether they have been ensured in this process.
pub struct Indexes {
    db: Database,
    specs: Vec<IndexSpec>,
    upgrades: Vec<Upgrade>,
    ensured: OnceCell<()>,
}

impl Indexes {
    /// The indexes `specs` of `db`, not yet ensured.
    pub fn new(db: &Database, specs: Vec<IndexSpec>) -> Self {
        Self {
            db: db.clone(),
            specs,
            upgrades: Vec::new(),
            ensured: OnceCell::new(),
        }
    }

    /// The same, running `upgrades` (those the database has not recorded) before the indexes.
    pub fn with_upgrades(mut self, upgrades: Vec<Upgrade>) -> Self {
        self.upgrades = upgrades;
        self
    }

    /// Creates the missing indexes, once per process; later calls return at once.
    pub async fn ensure(&self) -> Result<(), StoreError> {
        self.ensured
            .get_or_try_init(|| self.create_missing())
            .await
            .map(|_| ())
    }

    /// [`Indexes::ensure`] at connect: a server that does not answer yet is logged and left to
    /// the first operation; any other failure is returned.
    pub async fn at_startup(&self) -> Result<(), StoreError> {
        match self.ensure().await {
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "MongoDB unavailable at startup; indexes created later");
                Ok(())
            }
            other => other,
        }
    }

    async fn create_missing(&self) -> Result<(), StoreError> {
        upgrade::apply(&self.db, &self.upgrades).await?;
        let mut collections: Vec<&str> = Vec::new();
        for spec in &self.specs {
            if !collections.contains(&spec.collection) {
                collections.push(spec.collection);
            }
        }
        for collection in collections {
            let coll = self.db.collection::<Document>(collection);
            let existing = match coll.list_index_names().await {
                Ok(names) => names,
                // A collection that does not exist yet has no indexes.
                Err(e) if namespace_not_found(&e) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let missing: Vec<IndexModel> = self
                .specs
                .iter()
                .filter(|s| s.collection == collection && !existing.contains(&s.server_name()))
                .map(IndexSpec::model)
                .collect();
            if !missing.is_empty() {
                coll.create_indexes(missing).await?;
            }
        }
        Ok(())
    }
}

/// True for "ns does not exist" (code 26), what `listIndexes` answers for a new collection.
pub(super) fn namespace_not_found(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 26)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn unnamed_indexes_are_known_by_the_servers_default_name() {
        let spec = IndexSpec::keys("users", doc! {"created_at": -1, "_id": -1});
        assert_eq!(spec.server_name(), "created_at_-1__id_-1");
        let spec = IndexSpec::keys("users", doc! {"email_lc": 1}).unique();
        assert_eq!(spec.server_name(), "email_lc_1");
        assert!(spec.unique);
        let spec = IndexSpec::named("payments", "payments_user", doc! {"userId": 1});
        assert_eq!(spec.server_name(), "payments_user");
    }
}
