//! The SQLite order store's upgrade of rows an earlier version wrote.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::domain::{OrderItem, OrderStatus, PaymentStatus, ShippingAddress};

#[tokio::test]
async fn rows_an_earlier_version_wrote_in_camel_case_are_upgraded_once() {
    let file = test_support::TempSqlite::new();
    let store = SqliteOrderStore::connect(&file.url()).await.unwrap();
    let order = Order {
        id: "a".repeat(24),
        user_id: "u".into(),
        items: vec![OrderItem {
            product_id: "p".repeat(24),
            name: "say \"productId\": no".into(),
            price_cents: 250,
            quantity: 2,
        }],
        total_cents: 500,
        status: OrderStatus::Pending,
        payment_status: PaymentStatus::Pending,
        payment_id: None,
        shipping_address: ShippingAddress {
            street: "s".into(),
            city: "c".into(),
            state: "t".into(),
            zip_code: "z".into(),
            country: "k".into(),
        },
        tracking_number: None,
        notes: None,
        created_at: 1,
        updated_at: 1,
    };
    let event = crate::app::events::update(&order);
    store.create(&order, None, &event).await.unwrap();
    let json = |sql: &'static str| {
        let db = store.db.clone();
        async move {
            db.write(move |tx| Ok(tx.query_row(sql, [], |r| r.get::<_, String>(0))?))
                .await
                .unwrap()
        }
    };
    let items = json("SELECT items FROM orders").await;
    assert!(items.contains(r#""product_id":"#), "{items}");
    // What the camelCase version wrote.
    store
        .db
        .write(|tx| {
            tx.execute_batch(
                r#"UPDATE orders SET
                    items = replace(replace(items, '"product_id":', '"productId":'),
                        '"price_cents":', '"priceCents":'),
                    shipping_address = replace(shipping_address, '"zip_code":', '"zipCode":');
                PRAGMA user_version = 0;"#,
            )?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        store.get(&order.id).await.unwrap().unwrap(),
        order,
        "still read"
    );

    let store = SqliteOrderStore::connect(&file.url()).await.unwrap();
    let items = json("SELECT items FROM orders").await;
    assert!(items.contains(r#""product_id":"#) && items.contains(r#""price_cents":"#));
    assert!(
        items.contains(r#"say \"productId\": no"#),
        "names untouched: {items}"
    );
    let address = json("SELECT shipping_address FROM orders").await;
    assert!(address.contains(r#""zip_code":"#), "{address}");
    assert_eq!(store.get(&order.id).await.unwrap().unwrap(), order);
}
