//! Contract checks of the catalogue: create/get, SKU uniqueness, listing, patches, soft delete,
//! bulk reads.

use super::*;

pub async fn check_create_then_get_round_trips(store: &dyn ProductStore) {
    let created = store.create(new_product("A-1", 1999, 5)).await.unwrap();
    assert!(shared::ids::is_object_id(&created.id));
    let read = store.get(&created.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    assert_eq!(
        read.fields.metadata,
        Some(meta(serde_json::json!({"color": "red"})))
    );
    assert!(store
        .get("aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap()
        .is_none());
}

pub async fn check_duplicate_sku_is_a_conflict(store: &dyn ProductStore) {
    store.create(new_product("DUP", 100, 1)).await.unwrap();
    let err = store.create(new_product("DUP", 200, 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // SKUs are case-sensitive.
    store.create(new_product("dup", 200, 1)).await.unwrap();
}

pub async fn check_list_filters_sorts_and_pages(store: &dyn ProductStore) {
    let mut cheap = new_product("L-1", 500, 1);
    cheap.name = "Blue 50% Mug".into();
    cheap.category = "Kitchen".into();
    store.create(cheap).await.unwrap();
    store.create(new_product("L-2", 1500, 1)).await.unwrap();
    store.create(new_product("L-3", 2500, 1)).await.unwrap();
    let hidden = store.create(new_product("L-4", 700, 1)).await.unwrap();
    store
        .update(&hidden.id, ProductPatch::deactivate())
        .await
        .unwrap();

    let (all, total) = store.list(&ProductFilter::default(), PAGE).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(all[0].fields.sku, "L-3", "newest first by default");
    let by_price = ProductFilter {
        sort: SortOrder::PriceAsc,
        ..Default::default()
    };
    let (items, _) = store.list(&by_price, PAGE).await.unwrap();
    let skus: Vec<_> = items.iter().map(|p| p.fields.sku.as_str()).collect();
    assert_eq!(skus, ["L-1", "L-2", "L-3"]);
    let range = ProductFilter {
        min_price_cents: Some(1000),
        max_price_cents: Some(2000),
        ..Default::default()
    };
    assert_eq!(
        store.list(&range, PAGE).await.unwrap().0[0].fields.sku,
        "L-2"
    );
    let kitchen = ProductFilter {
        category: Some("Kitchen".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&kitchen, PAGE).await.unwrap().1, 1);
    let search = ProductFilter {
        search: Some("blue 50%".into()),
        ..Default::default()
    };
    assert_eq!(
        store.list(&search, PAGE).await.unwrap().0[0].fields.sku,
        "L-1"
    );
    let wildcard = ProductFilter {
        search: Some("%".into()),
        ..Default::default()
    };
    assert_eq!(
        store.list(&wildcard, PAGE).await.unwrap().1,
        1,
        "% matches literally"
    );
    let page2 = PageRequest { page: 2, limit: 2 };
    let (items, total) = store.list(&by_price, page2).await.unwrap();
    assert_eq!(
        (items.len(), total, items[0].fields.sku.as_str()),
        (1, 3, "L-3")
    );
}

pub async fn check_update_applies_patch_and_keeps_sku_unique(store: &dyn ProductStore) {
    let a = store.create(new_product("U-1", 100, 1)).await.unwrap();
    store.create(new_product("U-2", 100, 1)).await.unwrap();
    let patch = ProductPatch {
        name: Some("Renamed".into()),
        price_cents: Some(250),
        ..Default::default()
    };
    let updated = store.update(&a.id, patch).await.unwrap();
    assert_eq!(
        (updated.fields.name.as_str(), updated.fields.price_cents),
        ("Renamed", 250)
    );
    assert_eq!(updated.fields.sku, "U-1");
    assert_eq!(
        updated.fields.images, a.fields.images,
        "untouched fields are kept"
    );
    let clash = ProductPatch {
        sku: Some("U-2".into()),
        ..Default::default()
    };
    let err = store.update(&a.id, clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let missing = store
        .update("aaaaaaaaaaaaaaaaaaaaaaaa", ProductPatch::deactivate())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

pub async fn check_soft_delete_hides_from_lists_but_keeps_the_record(store: &dyn ProductStore) {
    let p = store.create(new_product("D-1", 100, 1)).await.unwrap();
    let deleted = store
        .update(&p.id, ProductPatch::deactivate())
        .await
        .unwrap();
    assert!(!deleted.fields.is_active);
    assert!(!store.get(&p.id).await.unwrap().unwrap().fields.is_active);
    assert_eq!(
        store.list(&ProductFilter::default(), PAGE).await.unwrap().1,
        0
    );
    assert!(store.get_active_many(&[p.id]).await.unwrap().is_empty());
}

pub async fn check_bulk_returns_active_products_in_request_order(store: &dyn ProductStore) {
    let a = store.create(new_product("B-1", 100, 1)).await.unwrap();
    let b = store.create(new_product("B-2", 100, 1)).await.unwrap();
    let c = store.create(new_product("B-3", 100, 1)).await.unwrap();
    store
        .update(&b.id, ProductPatch::deactivate())
        .await
        .unwrap();
    let ids = vec![
        c.id.clone(),
        "aaaaaaaaaaaaaaaaaaaaaaaa".into(),
        b.id,
        a.id.clone(),
    ];
    let found = store.get_active_many(&ids).await.unwrap();
    let got: Vec<_> = found.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(got, [c.id.as_str(), a.id.as_str()]);
}

pub async fn check_name_sort_ignores_case(store: &dyn ProductStore) {
    for (sku, name) in [("N-1", "banana"), ("N-2", "Apple"), ("N-3", "cherry")] {
        let mut p = new_product(sku, 100, 1);
        p.name = name.into();
        store.create(p).await.unwrap();
    }
    let by_name = ProductFilter {
        sort: SortOrder::NameAsc,
        ..Default::default()
    };
    let (items, _) = store.list(&by_name, PAGE).await.unwrap();
    let names: Vec<_> = items.iter().map(|p| p.fields.name.as_str()).collect();
    assert_eq!(names, ["Apple", "banana", "cherry"]);
    let renamed = ProductPatch {
        name: Some("Zucchini".into()),
        ..Default::default()
    };
    store.update(&items[0].id, renamed).await.unwrap();
    let (items, _) = store.list(&by_name, PAGE).await.unwrap();
    assert_eq!(
        items[2].fields.name, "Zucchini",
        "a rename moves the product in the name sort"
    );
}

pub async fn check_search_matches_regex_characters_literally(store: &dyn ProductStore) {
    let mut p = new_product("S-1", 100, 1);
    p.name = "Cable (USB-C) 2.0m".into();
    store.create(p).await.unwrap();
    store.create(new_product("S-2", 100, 1)).await.unwrap();
    for (needle, hits) in [("(usb-c) 2.0", 1), ("2.0M", 1), ("c.b", 0), (".*", 0)] {
        let filter = ProductFilter {
            search: Some(needle.into()),
            ..Default::default()
        };
        assert_eq!(store.list(&filter, PAGE).await.unwrap().1, hits, "{needle}");
    }
}

pub async fn check_update_keeps_metadata_and_timestamps_consistent(store: &dyn ProductStore) {
    let mut new = new_product("M-1", 100, 1);
    new.metadata = Some(meta(
        serde_json::json!({"$odd.key": [1, 2.5, null], "big": u64::MAX}),
    ));
    let p = store.create(new).await.unwrap();
    assert_eq!(store.get(&p.id).await.unwrap().unwrap(), p);
    let patch = ProductPatch {
        metadata: Some(meta(serde_json::json!({"size": "XL"}))),
        stock: Some(7),
        ..Default::default()
    };
    let updated = store.update(&p.id, patch).await.unwrap();
    assert_eq!(
        updated.fields.metadata,
        Some(meta(serde_json::json!({"size": "XL"})))
    );
    assert_eq!(
        (updated.fields.stock, updated.created_at),
        (7, p.created_at)
    );
    assert!(updated.updated_at >= p.updated_at);
    assert_eq!(store.get(&p.id).await.unwrap().unwrap(), updated);
}

pub async fn check_every_sort_key_orders_both_ways(store: &dyn ProductStore) {
    // Names, prices and creation times each in a different order, so that each sort is seen.
    for (sku, name, price) in [
        ("O-1", "banana", 300),
        ("O-2", "Apple", 100),
        ("O-3", "cherry", 200),
    ] {
        let mut p = new_product(sku, price, 1);
        p.name = name.into();
        // Created in this order: equal creation times are ordered by id, which grows.
        store.create(p).await.unwrap();
    }
    let skus = |sort| async move {
        let filter = ProductFilter {
            sort,
            ..Default::default()
        };
        let (items, _) = store.list(&filter, PAGE).await.unwrap();
        items.into_iter().map(|p| p.fields.sku).collect::<Vec<_>>()
    };
    let cases = [
        (SortOrder::CreatedAsc, ["O-1", "O-2", "O-3"]),
        (SortOrder::CreatedDesc, ["O-3", "O-2", "O-1"]),
        (SortOrder::PriceAsc, ["O-2", "O-3", "O-1"]),
        (SortOrder::PriceDesc, ["O-1", "O-3", "O-2"]),
        (SortOrder::NameAsc, ["O-2", "O-1", "O-3"]),
        (SortOrder::NameDesc, ["O-3", "O-1", "O-2"]),
    ];
    assert_eq!(
        cases.len(),
        SortOrder::ALLOWED.len(),
        "every documented key"
    );
    for (sort, expected) in cases {
        assert_eq!(skus(sort).await, expected, "{}", sort.as_str());
    }
}

pub async fn check_the_inactive_products_are_listed_apart(store: &dyn ProductStore) {
    let mut hidden = Vec::new();
    for (sku, name) in [("I-1", "alpha"), ("I-2", "Bravo"), ("I-3", "charlie")] {
        let mut p = new_product(sku, 100, 1);
        p.name = name.into();
        let p = store.create(p).await.unwrap();
        if sku != "I-2" {
            store
                .update(&p.id, ProductPatch::deactivate())
                .await
                .unwrap();
            hidden.push(p.fields.sku);
        }
    }
    let inactive = ProductFilter {
        is_active: false,
        sort: SortOrder::NameDesc,
        ..Default::default()
    };
    let (items, total) = store.list(&inactive, PAGE).await.unwrap();
    let skus: Vec<_> = items.iter().map(|p| p.fields.sku.as_str()).collect();
    assert_eq!((skus, total), (vec!["I-3", "I-1"], 2));
    assert!(items.iter().all(|p| !p.fields.is_active));
    let (items, total) = store.list(&ProductFilter::default(), PAGE).await.unwrap();
    assert_eq!((items[0].fields.sku.as_str(), total), ("I-2", 1));
    let in_kitchen = ProductFilter {
        category: Some("Kitchen".into()),
        ..inactive
    };
    assert_eq!(store.list(&in_kitchen, PAGE).await.unwrap().1, 0);
    assert_eq!(hidden.len(), 2);
}
