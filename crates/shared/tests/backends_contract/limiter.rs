//! Contract checks of the rate limiter: the count then refusals, window resets, one limit
//! shared by instances, and exact counting under concurrent hits.

use super::*;

pub async fn limiter_allows_the_count_then_refuses(f: Fixture) {
    let r = rule(3, Duration::from_secs(60));
    for expected_remaining in [2, 1, 0] {
        let d = f.limiter.hit("ip:1", r).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.limit, 3);
        assert_eq!(d.remaining, expected_remaining);
        assert_eq!(d.window, Duration::from_secs(60));
        assert!(
            d.reset_after > Duration::from_secs(55),
            "{:?}",
            d.reset_after
        );
        assert!(
            d.reset_after <= Duration::from_secs(60),
            "{:?}",
            d.reset_after
        );
    }
    let refused = f.limiter.hit("ip:1", r).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    // Another key has its own window.
    let other = f.limiter.hit("ip:2", r).await.unwrap();
    assert!(other.allowed);
    assert_eq!(other.remaining, 2);
}

pub async fn limiter_window_resets(f: Fixture) {
    let r = rule(1, Duration::from_millis(300));
    assert!(f.limiter.hit("user:w", r).await.unwrap().allowed);
    assert!(!f.limiter.hit("user:w", r).await.unwrap().allowed);
    let limiter = f.limiter.clone();
    eventually("the window to reset", Duration::from_secs(3), || {
        let limiter = limiter.clone();
        async move { limiter.hit("user:w", r).await.unwrap().allowed }
    })
    .await;
}

pub async fn limiter_instances_share_one_limit(f: Fixture) {
    let r = rule(4, Duration::from_secs(60));
    assert!(f.limiter.hit("shared", r).await.unwrap().allowed);
    assert!(f.limiter2.hit("shared", r).await.unwrap().allowed);
    assert!(f.limiter.hit("shared", r).await.unwrap().allowed);
    let last = f.limiter2.hit("shared", r).await.unwrap();
    assert!(last.allowed);
    assert_eq!(last.remaining, 0);
    assert!(!f.limiter.hit("shared", r).await.unwrap().allowed);
    assert!(!f.limiter2.hit("shared", r).await.unwrap().allowed);
}

pub async fn limiter_counts_concurrent_hits_exactly(f: Fixture) {
    let r = rule(20, Duration::from_secs(60));
    let hits = (0..60).map(|i| {
        let limiter = if i % 2 == 0 {
            f.limiter.clone()
        } else {
            f.limiter2.clone()
        };
        tokio::spawn(async move { limiter.hit("burst", r).await.unwrap().allowed })
    });
    let mut allowed = 0;
    for h in hits {
        allowed += usize::from(h.await.unwrap());
    }
    assert_eq!(allowed, 20);
}
