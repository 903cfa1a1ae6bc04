//! Checks that a store's queries are served by its indexes: the SQLite query plan of a statement
//! (`EXPLAIN QUERY PLAN`), and the key documents of a MongoDB collection's indexes.

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document};
use shared::sqlite::Database;

/// The `EXPLAIN QUERY PLAN` lines of `sql`. Parameters are left unbound: SQLite chooses a plan
/// when it prepares the statement, before any value is bound.
pub async fn sqlite_plan(db: &Database, sql: &str) -> Vec<String> {
    shared::sqlite::query_plan(db, sql)
        .await
        .unwrap_or_else(|e| panic!("cannot explain {sql}: {e}"))
}

/// Asserts that `sql` reads through every index in `indexes`, never scans a whole table, and
/// returns its rows in the order asked without sorting them (no temporary B-tree).
pub async fn assert_index_served(db: &Database, sql: &str, indexes: &[&str]) {
    let plan = assert_index_filtered(db, sql, indexes).await;
    assert!(
        !plan.iter().any(|line| line.contains("TEMP B-TREE")),
        "{sql}\nsorts instead of reading in index order:\n{}",
        plan.join("\n")
    );
}

/// Asserts that `sql` reads through every index in `indexes` and never scans a whole table
/// (a sort of the rows found is allowed: for merges of few rows). Returns the plan.
pub async fn assert_index_filtered(db: &Database, sql: &str, indexes: &[&str]) -> Vec<String> {
    let plan = sqlite_plan(db, sql).await;
    let shown = plan.join("\n");
    for line in &plan {
        // `SCAN t` alone reads every row of `t`; `SCAN t USING [COVERING] INDEX i` walks an index
        // (`SCAN CONSTANT ROW` is the one row of a SELECT without FROM).
        let full_scan =
            line.starts_with("SCAN ") && !line.contains(" USING ") && line != "SCAN CONSTANT ROW";
        assert!(!full_scan, "{sql}\nscans a whole table:\n{shown}");
    }
    for index in indexes {
        let uses = plan.iter().any(|line| {
            let tail = format!("INDEX {index}");
            line.contains(&format!("{tail} ")) || line.ends_with(&tail)
        });
        assert!(uses, "{sql}\ndoes not use index {index}:\n{shown}");
    }
    plan
}

/// The key documents of the indexes of `collection` in the database named by `url`, each as
/// (field, direction) pairs in key order.
pub async fn mongo_index_keys(url: &str, collection: &str) -> Vec<Vec<(String, i64)>> {
    let client = mongodb::Client::with_uri_str(url).await.unwrap();
    let db = client.default_database().expect("the URL names a database");
    let models: Vec<mongodb::IndexModel> = db
        .collection::<Document>(collection)
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    models.iter().map(|m| key_pairs(&m.keys)).collect()
}

/// The names of the indexes of `collection` in the database named by `url`.
pub async fn mongo_index_names(url: &str, collection: &str) -> Vec<String> {
    let client = mongodb::Client::with_uri_str(url).await.unwrap();
    let db = client.default_database().expect("the URL names a database");
    db.collection::<Document>(collection)
        .list_index_names()
        .await
        .unwrap()
}

/// Asserts that `collection` has an index whose keys are exactly `keys`, in order, for each of
/// `wanted` (the equality fields a query filters on, then the fields it sorts by).
pub async fn assert_mongo_indexes(url: &str, collection: &str, wanted: &[Document]) {
    let present = mongo_index_keys(url, collection).await;
    for keys in wanted {
        let keys = key_pairs(keys);
        assert!(
            present.contains(&keys),
            "{collection} has no index {keys:?}; it has {present:?}"
        );
    }
}

fn key_pairs(keys: &Document) -> Vec<(String, i64)> {
    keys.iter()
        .map(|(field, dir)| {
            let dir = match dir {
                Bson::Int32(n) => i64::from(*n),
                Bson::Int64(n) => *n,
                Bson::Double(n) => *n as i64,
                other => panic!("index direction {other:?} on {field}"),
            };
            (field.clone(), dir)
        })
        .collect()
}
