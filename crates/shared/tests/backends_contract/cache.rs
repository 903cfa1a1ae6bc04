//! Contract checks of the cache: stores, overwrites and deletes, binary-safe values, expiry, and
//! shared generation counters.

use super::*;

fn bytes(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

pub async fn cache_stores_overwrites_and_deletes(f: Fixture) {
    let ttl = Duration::from_secs(60);
    assert_eq!(f.cache.get("product:1").await.unwrap(), None);
    f.cache
        .set("product:1", bytes("{\"a\":1}"), ttl)
        .await
        .unwrap();
    assert_eq!(
        f.cache.get("product:1").await.unwrap(),
        Some(bytes("{\"a\":1}"))
    );
    assert_eq!(
        f.cache2.get("product:1").await.unwrap(),
        Some(bytes("{\"a\":1}"))
    );
    f.cache
        .set("product:1", bytes("ünïcode ✓"), ttl)
        .await
        .unwrap();
    assert_eq!(
        f.cache.get("product:1").await.unwrap(),
        Some(bytes("ünïcode ✓"))
    );
    f.cache.delete("product:1").await.unwrap();
    assert_eq!(f.cache.get("product:1").await.unwrap(), None);
    // Deleting what is absent is fine.
    f.cache.delete("product:1").await.unwrap();
}

pub async fn cache_values_are_binary_safe(f: Fixture) {
    // Every byte value, NULs and invalid UTF-8 included, plus an empty value and a large one:
    // stored answers hold gzip and br forms.
    let every_byte: Bytes = (0..=255u8).chain((0..=255u8).rev()).collect();
    let large: Bytes = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let ttl = Duration::from_secs(60);
    for (key, value) in [
        ("bin:every", every_byte),
        ("bin:empty", Bytes::new()),
        ("bin:large", large),
    ] {
        f.cache.set(key, value.clone(), ttl).await.unwrap();
        assert_eq!(
            f.cache.get(key).await.unwrap(),
            Some(value.clone()),
            "{key}"
        );
        assert_eq!(f.cache2.get(key).await.unwrap(), Some(value), "{key}");
    }
}

pub async fn cache_entries_expire(f: Fixture) {
    f.cache
        .set("short", bytes("v"), Duration::from_millis(150))
        .await
        .unwrap();
    f.cache
        .set("long", bytes("v"), Duration::from_secs(60))
        .await
        .unwrap();
    f.cache
        .set("none", bytes("v"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(f.cache.get("none").await.unwrap(), None);
    let cache = f.cache.clone();
    eventually("the short entry to expire", Duration::from_secs(3), || {
        let cache = cache.clone();
        async move { cache.get("short").await.unwrap().is_none() }
    })
    .await;
    assert_eq!(f.cache.get("long").await.unwrap(), Some(bytes("v")));
}

pub async fn cache_generations_count_and_are_shared(f: Fixture) {
    assert_eq!(f.cache.generation("gen:products").await.unwrap(), 0);
    assert_eq!(f.cache.bump("gen:products").await.unwrap(), 1);
    assert_eq!(f.cache.bump("gen:products").await.unwrap(), 2);
    assert_eq!(f.cache.generation("gen:products").await.unwrap(), 2);
    assert_eq!(f.cache2.generation("gen:products").await.unwrap(), 2);
    assert_eq!(f.cache2.bump("gen:products").await.unwrap(), 3);
    assert_eq!(f.cache.generation("gen:products").await.unwrap(), 3);
    assert_eq!(f.cache.generation("gen:other").await.unwrap(), 0);
}
