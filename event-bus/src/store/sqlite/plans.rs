//! The query plans of the SQLite event store: due deliveries, dead letters, recent events and the
//! counts read through their indexes in the order asked, never a scan of the whole log; and the
//! migration that gives an older database the `deliveries.seq` those indexes need.

use super::writes::{BODIES, CLAIM, MARK_DELIVERED, RELEASE};
use super::{dead_sql, deliveries_of_sql, recent_sql, SqliteEventStore, COUNTS, NEXT_DUE};
use crate::store::{Claim, EventStore};
use shared::sqlite::Database;
use test_support::indexes::{assert_index_filtered, assert_index_served, sqlite_plan};

/// The plan of `sql` without the lines that read its JSON array argument (`json_each`, a table
/// of the ids passed, not of the database).
async fn plan_of_database(db: &Database, sql: &str) -> Vec<String> {
    sqlite_plan(db, sql)
        .await
        .into_iter()
        .filter(|l| !l.contains("json_each"))
        .collect()
}

#[tokio::test]
async fn every_event_store_query_reads_through_its_index() {
    let store = SqliteEventStore::connect("sqlite::memory:")
        .await
        .expect("in-memory store");
    let db = &store.db;
    // The dispatcher's claim: pending deliveries of one subscriber in event order, leased in
    // the same statement; their events are then found by id, and acknowledgements and releases
    // find the deliveries by primary key.
    let events_by_id = "sqlite_autoindex_events_1";
    let deliveries_by_key = "sqlite_autoindex_deliveries_1";
    assert_index_served(db, CLAIM, &["deliveries_pending_seq"]).await;
    for (sql, index) in [
        (BODIES, events_by_id),
        (MARK_DELIVERED, deliveries_by_key),
        (RELEASE, deliveries_by_key),
    ] {
        let plan = plan_of_database(db, sql).await;
        assert!(
            plan.iter().any(|l| l.contains(&format!("INDEX {index}"))),
            "{sql}\n{plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|l| l.starts_with("SCAN ") && !l.contains(" USING ")),
            "{sql}\nscans a whole table:\n{plan:?}"
        );
    }
    assert_index_served(db, NEXT_DUE, &["deliveries_pending_next"]).await;
    assert_index_served(db, &dead_sql(), &["deliveries_dead_at", events_by_id]).await;
    assert_index_served(db, &recent_sql(true), &["events_type"]).await;
    // Without a type the newest events are the end of the table itself (`seq` is its rowid).
    assert_eq!(sqlite_plan(db, &recent_sql(false)).await, ["SCAN e"]);
    // The deliveries of a page of events: by primary key, the few found sorted by subscriber.
    let deliveries = deliveries_of_sql(20);
    assert_index_filtered(db, &deliveries, &["sqlite_autoindex_deliveries_1"]).await;
    assert_index_filtered(
        db,
        COUNTS,
        &["deliveries_pending_next", "deliveries_dead_at"],
    )
    .await;
}

#[tokio::test]
async fn a_database_from_before_delivery_seq_gets_it_from_its_events() {
    let path = std::env::temp_dir().join(format!("events-{}.db", shared::ids::new_object_id()));
    let url = format!("sqlite://{}", path.display());
    let old = Database::open(&url).await.expect("old database");
    old.write(|tx| {
        Ok(tx.execute_batch(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL, data TEXT NOT NULL, occurred_at TEXT NOT NULL,
            source TEXT NOT NULL, received_at INTEGER NOT NULL);
         CREATE INDEX events_type ON events (type, seq);
         CREATE TABLE deliveries (event_id TEXT NOT NULL REFERENCES events (id),
            subscriber TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, next_attempt_at INTEGER NOT NULL, delivered_at INTEGER,
            updated_at INTEGER NOT NULL, PRIMARY KEY (event_id, subscriber));
         CREATE INDEX deliveries_due ON deliveries (subscriber, status, next_attempt_at);
         CREATE INDEX deliveries_status ON deliveries (status, updated_at);
         INSERT INTO events (id, type, data, occurred_at, source, received_at) VALUES
            ('a', 'OrderCreated', '{}', '2024-01-01T00:00:00.000Z', 'test', 1),
            ('b', 'OrderCreated', '{}', '2024-01-01T00:00:00.000Z', 'test', 1);
         INSERT INTO deliveries (event_id, subscriber, status, next_attempt_at, updated_at)
            VALUES ('b', 'sub', 'pending', 1, 1), ('a', 'sub', 'pending', 1, 1);",
        )?)
    })
    .await
    .expect("old schema");
    old.close().await;

    let store = SqliteEventStore::connect(&url).await.expect("migrated");
    let seqs: Vec<(String, i64)> = store
        .db
        .read(|conn| {
            let mut stmt =
                conn.prepare("SELECT event_id, seq FROM deliveries ORDER BY event_id")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .expect("seq");
    assert_eq!(seqs, [("a".to_string(), 1), ("b".to_string(), 2)]);
    let due = store
        .claim(Claim {
            subscriber: "sub",
            now: 10,
            lease_until: 100,
            limit: 10,
        })
        .await
        .expect("claim");
    let ids: Vec<&str> = due.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "in event order");
    // Connecting again finds the column and leaves it be.
    drop(store);
    SqliteEventStore::connect(&url).await.expect("reopened");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
