//! The query plans of the SQLite payment store: the worker's scan reads only payments with work
//! to do, in order, and lookups go through their indexes, never a scan of every payment.

use super::{SqlitePaymentStore, BY_ORDER, DUE_WORK, GIVE_BACK};
use test_support::indexes::assert_index_served;

#[tokio::test]
async fn the_worker_scan_and_the_lookups_read_through_their_indexes() {
    let store = SqlitePaymentStore::connect("sqlite::memory:")
        .await
        .expect("in-memory store");
    let db = &store.db;
    // Completed payments (nearly all of them, in time) are not in `payments_work` at all.
    assert_index_served(db, DUE_WORK, &["payments_work"]).await;
    assert_index_served(db, BY_ORDER, &["sqlite_autoindex_payments_2"]).await;
    assert_index_served(db, GIVE_BACK, &["sqlite_autoindex_payments_1"]).await;
}
