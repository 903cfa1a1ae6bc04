//! The query plans of the SQLite product store: every list and its total read through the index
//! made for its filter and sort, never a scan of the whole catalogue, and never sort what the
//! index already orders.

use super::{list_queries, SqliteProductStore};
use crate::domain::{ProductFilter, SortOrder};
use shared::store::PageRequest;
use test_support::indexes::{assert_index_filtered, assert_index_served};

const PAGE: PageRequest = PageRequest { page: 2, limit: 20 };

async fn store() -> SqliteProductStore {
    SqliteProductStore::connect("sqlite::memory:")
        .await
        .expect("in-memory store")
}

fn filter(category: Option<&str>, prices: Option<(i64, i64)>, sort: SortOrder) -> ProductFilter {
    ProductFilter {
        category: category.map(str::to_string),
        min_price_cents: prices.map(|p| p.0),
        max_price_cents: prices.map(|p| p.1),
        search: None,
        sort,
    }
}

#[tokio::test]
async fn each_sort_with_or_without_a_category_reads_its_index_in_order() {
    let store = store().await;
    let cases = [
        (
            SortOrder::CreatedDesc,
            "products_created",
            "products_category_created",
        ),
        (
            SortOrder::CreatedAsc,
            "products_created",
            "products_category_created",
        ),
        (
            SortOrder::PriceAsc,
            "products_by_price",
            "products_category_price",
        ),
        (
            SortOrder::PriceDesc,
            "products_by_price",
            "products_category_price",
        ),
        (
            SortOrder::NameAsc,
            "products_by_name",
            "products_category_name",
        ),
    ];
    for (sort, all, in_category) in cases {
        let (_, rows) = list_queries(&filter(None, None, sort), PAGE);
        assert_index_served(&store.pool, rows.sql(), &[all]).await;
        let (_, rows) = list_queries(&filter(Some("Books"), None, sort), PAGE);
        assert_index_served(&store.pool, rows.sql(), &[in_category]).await;
    }
}

#[tokio::test]
async fn a_price_range_is_a_range_of_a_price_index() {
    let store = store().await;
    let range = Some((1_000, 5_000));
    for sort in [SortOrder::PriceAsc, SortOrder::PriceDesc] {
        let (count, rows) = list_queries(&filter(None, range, sort), PAGE);
        assert_index_served(&store.pool, rows.sql(), &["products_by_price"]).await;
        assert_index_filtered(&store.pool, count.sql(), &["products_by_price"]).await;
        let (count, rows) = list_queries(&filter(Some("Books"), range, sort), PAGE);
        assert_index_served(&store.pool, rows.sql(), &["products_category_price"]).await;
        assert_index_filtered(&store.pool, count.sql(), &["products_category_price"]).await;
    }
    // Sorted by something else, the range still narrows through an index (no whole-table scan).
    for sort in [SortOrder::CreatedDesc, SortOrder::NameAsc] {
        for category in [None, Some("Books")] {
            let (_, rows) = list_queries(&filter(category, range, sort), PAGE);
            assert_index_filtered(&store.pool, rows.sql(), &[]).await;
        }
    }
}

#[tokio::test]
async fn totals_and_searches_read_only_active_products_through_an_index() {
    let store = store().await;
    for category in [None, Some("Books")] {
        let (count, _) = list_queries(&filter(category, None, SortOrder::default()), PAGE);
        let plan = assert_index_filtered(&store.pool, count.sql(), &[]).await;
        let narrowed = match category {
            None => "(is_active=?)",
            Some(_) => "(is_active=? AND category=?)",
        };
        assert!(plan.iter().any(|l| l.ends_with(narrowed)), "{plan:?}");
        // A search matches a substring, which no index can find: it reads the active products
        // (of the category) in the order of the sort, through the same index.
        let mut searched = filter(category, None, SortOrder::CreatedDesc);
        searched.search = Some("lamp".into());
        let (count, rows) = list_queries(&searched, PAGE);
        let index = match category {
            None => "products_created",
            Some(_) => "products_category_created",
        };
        assert_index_served(&store.pool, rows.sql(), &[index]).await;
        assert_index_filtered(&store.pool, count.sql(), &[]).await;
    }
}
