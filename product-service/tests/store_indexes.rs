//! The MongoDB product store creates the index each list needs: the equality fields it filters on
//! (`is_active`, the category), then the fields it sorts by (the SQLite plans are checked in the
//! store's unit tests). Runs when `MONGO_TEST_URL` is set (a fresh database), and must under
//! `CI=true`.
#![allow(clippy::unwrap_used)]

use mongodb::bson::doc;
use shared::mongo::MongoOptions;
use test_support::indexes::assert_mongo_indexes;

#[tokio::test]
async fn every_mongo_list_has_its_compound_index() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    product_service::store::connect(&db.url, MongoOptions::default())
        .await
        .unwrap();
    let wanted = [
        // The unique SKU.
        doc! {"sku": 1},
        // Active products by creation, price (also a price range) and name; read backwards for
        // the descending sorts.
        doc! {"is_active": 1, "created_at": 1, "_id": 1},
        doc! {"is_active": 1, "price_cents": 1, "_id": 1},
        doc! {"is_active": 1, "name_key": 1, "_id": 1},
        // The same within a category.
        doc! {"is_active": 1, "category": 1, "created_at": 1, "_id": 1},
        doc! {"is_active": 1, "category": 1, "price_cents": 1, "_id": 1},
        doc! {"is_active": 1, "category": 1, "name_key": 1, "_id": 1},
    ];
    assert_mongo_indexes(&db.url, "products", &wanted).await;
    db.cleanup().await;
}
