//! Contract checks of the store's queues: the stock-release queue and the event outbox.

use super::*;

pub async fn check_release_queue_retries_later_and_finishes(store: &dyn OrderStore) {
    let id = new_object_id();
    store.queue_release(&id).await.unwrap();
    store.queue_release(&id).await.unwrap();
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![id.clone()]
    );
    store
        .release_failed(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(store
        .claim_releases(10, Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    store.release_failed(&id, Duration::ZERO).await.unwrap();
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![id.clone()]
    );
    store.release_done(&id).await.unwrap();
    assert!(store
        .claim_releases(10, Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    store.ping().await.unwrap();
}

pub async fn check_outbox_delivers_retries_and_counts(store: &dyn OrderStore) {
    let (first, second) = (order(&new_object_id(), 1), order(&new_object_id(), 2));
    insert(store, &first).await;
    insert(store, &second).await;
    let outbox = store.outbox();
    let due = outbox.claim(10, Duration::ZERO).await.unwrap();
    let order_ids: Vec<_> = due.iter().map(|e| e.data["orderId"].clone()).collect();
    assert_eq!(
        order_ids,
        vec![json!(first.id), json!(second.id)],
        "oldest first"
    );
    assert_eq!(
        outbox.claim(1, Duration::ZERO).await.unwrap().len(),
        1,
        "limit applies"
    );
    let (a, b) = (due[0].id.clone(), due[1].id.clone());
    outbox
        .failed(std::slice::from_ref(&a), Duration::from_secs(60))
        .await
        .unwrap();
    let later = outbox.claim(10, Duration::ZERO).await.unwrap();
    assert_eq!(later.iter().map(|e| &e.id).collect::<Vec<_>>(), vec![&b]);
    assert_eq!(outbox.pending().await.unwrap(), 2);
    outbox.delivered(std::slice::from_ref(&b)).await.unwrap();
    assert_eq!(outbox.pending().await.unwrap(), 1);
    assert!(outbox.claim(10, Duration::ZERO).await.unwrap().is_empty());
    outbox
        .failed(std::slice::from_ref(&a), Duration::ZERO)
        .await
        .unwrap();
    let retried = outbox.claim(10, Duration::ZERO).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0], due[0], "the event comes back unchanged");
}

/// How long the claims of these checks last: beyond any test.
const LEASE: Duration = Duration::from_secs(600);

pub async fn check_claims_lease_the_work_until_its_outcome(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let outbox = store.outbox();
    let claimed = outbox.claim(10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(outbox.claim(10, LEASE).await.unwrap().is_empty(), "leased");
    outbox
        .failed(std::slice::from_ref(&claimed[0].id), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        outbox.claim(10, LEASE).await.unwrap(),
        claimed,
        "a failure ends the lease"
    );
    outbox
        .delivered(std::slice::from_ref(&claimed[0].id))
        .await
        .unwrap();
    assert!(outbox.claim(10, Duration::ZERO).await.unwrap().is_empty());

    let id = new_object_id();
    store.queue_release(&id).await.unwrap();
    assert_eq!(
        store.claim_releases(10, LEASE).await.unwrap(),
        vec![id.clone()]
    );
    assert!(
        store.claim_releases(10, LEASE).await.unwrap().is_empty(),
        "leased"
    );
    store.release_failed(&id, Duration::ZERO).await.unwrap();
    // A lease that ends at once (as one ends when its replica crashed) leaves the release due.
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![id.clone()]
    );
    assert_eq!(
        store.claim_releases(10, LEASE).await.unwrap(),
        vec![id.clone()]
    );
    store.release_done(&id).await.unwrap();
    store.release_failed(&id, Duration::ZERO).await.unwrap();
    assert!(
        store
            .claim_releases(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "done"
    );
}

/// Two stores on one database (two replicas), four claimers alternating between them in small
/// batches: together they claim every event and every release, and none twice.
pub async fn check_replicas_claiming_at_once_never_share_an_event_or_a_release(
    first: Arc<dyn OrderStore>,
    second: Arc<dyn OrderStore>,
) {
    const N: usize = 60;
    for i in 0..N {
        insert(&*first, &order(&new_object_id(), i as i64)).await;
        second.queue_release(&new_object_id()).await.unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|i| {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let (mut events, mut releases) = (Vec::new(), Vec::new());
                // Bounded: without leases the same work would come back forever.
                for _ in 0..2 * N {
                    let e = store.outbox().claim(7, LEASE).await.unwrap();
                    let r = store.claim_releases(5, LEASE).await.unwrap();
                    if e.is_empty() && r.is_empty() {
                        break;
                    }
                    events.extend(e.into_iter().map(|e| e.id));
                    releases.extend(r);
                }
                (events, releases)
            })
        })
        .collect();
    let (mut events, mut releases) = (Vec::new(), Vec::new());
    for c in claimers {
        let (e, r) = c.await.unwrap();
        events.extend(e);
        releases.extend(r);
    }
    let distinct = |ids: &[String]| ids.iter().collect::<std::collections::HashSet<_>>().len();
    assert_eq!((events.len(), distinct(&events)), (N, N));
    assert_eq!((releases.len(), distinct(&releases)), (N, N));
}
