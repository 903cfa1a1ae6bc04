//! Contract checks of payment events: each event id applies once, and refused or unknown ones
//! are recorded too.

use super::*;

pub async fn check_payment_events_apply_once_per_event_id(store: &dyn OrderStore) {
    let (paid, failing) = (order(&new_object_id(), 1), order(&new_object_id(), 2));
    insert(store, &paid).await;
    insert(store, &failing).await;
    let processed = PaymentChange::Processed {
        payment_id: "pay-1".into(),
    };
    let Some(Transition::Applied(o)) = store
        .apply_payment(&payment_event("ev-1", &paid.id, &processed), update)
        .await
        .unwrap()
    else {
        panic!("not applied");
    };
    assert_eq!(
        (o.status, o.payment_status),
        (OrderStatus::Confirmed, PaymentStatus::Completed)
    );
    assert_eq!(o.payment_id.as_deref(), Some("pay-1"));
    assert_eq!(
        store
            .apply_payment(&payment_event("ev-1", &paid.id, &processed), update)
            .await
            .unwrap(),
        None
    );
    let failed = PaymentChange::Failed {
        reason: "Card declined".into(),
    };
    let late = store
        .apply_payment(&payment_event("ev-2", &paid.id, &failed), update)
        .await
        .unwrap();
    assert!(
        matches!(late, Some(Transition::Refused(_))),
        "a confirmed order does not fail"
    );
    let Some(Transition::Applied(f)) = store
        .apply_payment(&payment_event("ev-3", &failing.id, &failed), update)
        .await
        .unwrap()
    else {
        panic!("not failed");
    };
    assert_eq!(
        (f.status, f.notes.as_deref()),
        (OrderStatus::Failed, Some("Card declined"))
    );
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![failing.id.clone()]
    );
    let Some(Transition::Applied(r)) = store
        .apply_payment(
            &payment_event("ev-4", &paid.id, &PaymentChange::Refunded),
            update,
        )
        .await
        .unwrap()
    else {
        panic!("not refunded");
    };
    assert_eq!(r.payment_status, PaymentStatus::Refunded);
    let unknown = store
        .apply_payment(&payment_event("ev-5", &new_object_id(), &processed), update)
        .await
        .unwrap();
    assert_eq!(unknown, Some(Transition::NotFound));
}

pub async fn check_refused_and_unknown_payment_events_are_recorded_once(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let refund_first = store
        .apply_payment(
            &payment_event("r-1", &o.id, &PaymentChange::Refunded),
            update,
        )
        .await
        .unwrap();
    assert!(matches!(refund_first, Some(Transition::Applied(_))));
    let again = store
        .apply_payment(
            &payment_event("r-2", &o.id, &PaymentChange::Refunded),
            update,
        )
        .await
        .unwrap();
    assert!(
        matches!(again, Some(Transition::Refused(ref r)) if r.payment_status == PaymentStatus::Refunded)
    );
    let replay = store
        .apply_payment(
            &payment_event("r-2", &o.id, &PaymentChange::Refunded),
            update,
        )
        .await
        .unwrap();
    assert_eq!(replay, None, "a refused event id is recorded too");
    let ghost = new_object_id();
    let change = PaymentChange::Failed { reason: "x".into() };
    assert_eq!(
        store
            .apply_payment(&payment_event("g-1", &ghost, &change), update)
            .await
            .unwrap(),
        Some(Transition::NotFound)
    );
    assert_eq!(
        store
            .apply_payment(&payment_event("g-1", &ghost, &change), update)
            .await
            .unwrap(),
        None
    );
    assert!(store
        .claim_releases(10, Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .advance(
                step(
                    &ghost,
                    OrderStatus::Confirmed,
                    OrderStatus::Processing,
                    None
                ),
                update
            )
            .await
            .unwrap(),
        Transition::NotFound
    );
    let updates = outbox_types(store).await;
    assert_eq!(
        updates
            .iter()
            .filter(|t| *t == types::ORDER_UPDATED)
            .count(),
        1,
        "only the applied change emits"
    );
}
