//! Contract checks of the store's queues: the stock-release queue and the event outbox.

use super::*;
use std::time::Duration;

pub async fn check_release_queue_retries_later_and_finishes(store: &dyn OrderStore) {
    let id = new_object_id();
    store.queue_release(&id).await.unwrap();
    store.queue_release(&id).await.unwrap();
    assert_eq!(store.due_releases(10).await.unwrap(), vec![id.clone()]);
    store
        .release_failed(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(store.due_releases(10).await.unwrap().is_empty());
    store.release_failed(&id, Duration::ZERO).await.unwrap();
    assert_eq!(store.due_releases(10).await.unwrap(), vec![id.clone()]);
    store.release_done(&id).await.unwrap();
    assert!(store.due_releases(10).await.unwrap().is_empty());
    store.ping().await.unwrap();
}

pub async fn check_outbox_delivers_retries_and_counts(store: &dyn OrderStore) {
    let (first, second) = (order(&new_object_id(), 1), order(&new_object_id(), 2));
    insert(store, &first).await;
    insert(store, &second).await;
    let outbox = store.outbox();
    let due = outbox.due(10).await.unwrap();
    let order_ids: Vec<_> = due.iter().map(|e| e.data["orderId"].clone()).collect();
    assert_eq!(
        order_ids,
        vec![json!(first.id), json!(second.id)],
        "oldest first"
    );
    assert_eq!(outbox.due(1).await.unwrap().len(), 1, "limit applies");
    let (a, b) = (due[0].id.clone(), due[1].id.clone());
    outbox
        .failed(std::slice::from_ref(&a), Duration::from_secs(60))
        .await
        .unwrap();
    let later = outbox.due(10).await.unwrap();
    assert_eq!(later.iter().map(|e| &e.id).collect::<Vec<_>>(), vec![&b]);
    assert_eq!(outbox.pending().await.unwrap(), 2);
    outbox.delivered(std::slice::from_ref(&b)).await.unwrap();
    assert_eq!(outbox.pending().await.unwrap(), 1);
    assert!(outbox.due(10).await.unwrap().is_empty());
    outbox
        .failed(std::slice::from_ref(&a), Duration::ZERO)
        .await
        .unwrap();
    let retried = outbox.due(10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0], due[0], "the event comes back unchanged");
}
