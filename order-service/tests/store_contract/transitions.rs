//! Contract checks of status transitions: conditional and owner-scoped cancels, advancing from
//! an expected status, and racing cancels against payments.

use super::*;

pub async fn check_cancel_is_conditional_owner_scoped_and_queues_release(store: &dyn OrderStore) {
    let user = new_object_id();
    let o = order(&user, 1);
    insert(store, &o).await;
    let stranger = new_object_id();
    assert_eq!(
        store
            .cancel(cancel_of(&o.id, Some(&stranger), CANCELLABLE), cancellation)
            .await
            .unwrap(),
        Transition::NotFound
    );
    assert_eq!(
        store
            .cancel(cancel_of(&new_object_id(), None, CANCELLABLE), cancellation)
            .await
            .unwrap(),
        Transition::NotFound
    );
    let Transition::Applied(done) = store
        .cancel(cancel_of(&o.id, Some(&user), CANCELLABLE), cancellation)
        .await
        .unwrap()
    else {
        panic!("cancel refused");
    };
    assert_eq!(done.status, OrderStatus::Cancelled);
    assert!(matches!(
        store
            .cancel(cancel_of(&o.id, None, CANCELLABLE), cancellation)
            .await
            .unwrap(),
        Transition::Refused(_)
    ));
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![o.id.clone()]
    );
    let due = store.outbox().claim(10, Duration::ZERO).await.unwrap();
    let cancelled = due
        .iter()
        .find(|e| e.event_type == types::ORDER_CANCELLED)
        .unwrap();
    assert_eq!(cancelled.data["paymentStatus"], "pending");
    assert_eq!(cancelled.data["userId"], json!(user));
}

pub async fn check_advance_moves_only_from_the_expected_status(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let refused = store
        .advance(
            step(&o.id, OrderStatus::Confirmed, OrderStatus::Processing, None),
            update,
        )
        .await
        .unwrap();
    assert!(matches!(refused, Transition::Refused(ref r) if r.status == OrderStatus::Pending));
    let change = PaymentChange::Processed {
        payment_id: "p1".into(),
    };
    store
        .apply_payment(&payment_event("e1", &o.id, &change), update)
        .await
        .unwrap();
    let advance = |from, to, tracking| store.advance(step(&o.id, from, to, tracking), update);
    let Transition::Applied(p) = advance(OrderStatus::Confirmed, OrderStatus::Processing, None)
        .await
        .unwrap()
    else {
        panic!("not advanced");
    };
    assert_eq!(p.status, OrderStatus::Processing);
    let Transition::Applied(s) =
        advance(OrderStatus::Processing, OrderStatus::Shipped, Some("TRK1"))
            .await
            .unwrap()
    else {
        panic!("not shipped");
    };
    assert_eq!(s.tracking_number.as_deref(), Some("TRK1"));
    assert!(outbox_types(store)
        .await
        .contains(&types::ORDER_UPDATED.to_string()));
}

/// A confirmed, paid order (the state `PaymentProcessed` leaves).
async fn paid_order(store: &dyn OrderStore) -> Order {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let change = PaymentChange::Processed {
        payment_id: new_object_id(),
    };
    store
        .apply_payment(&payment_event(&new_object_id(), &o.id, &change), update)
        .await
        .unwrap();
    store.get(&o.id).await.unwrap().unwrap()
}

pub async fn check_an_order_whose_payment_is_not_completed_never_advances(store: &dyn OrderStore) {
    let o = paid_order(store).await;
    assert_eq!(o.status, OrderStatus::Confirmed);
    store
        .apply_payment(
            &payment_event(&new_object_id(), &o.id, &PaymentChange::Refunded),
            update,
        )
        .await
        .unwrap();
    let refused = store
        .advance(
            step(&o.id, OrderStatus::Confirmed, OrderStatus::Processing, None),
            update,
        )
        .await
        .unwrap();
    let Transition::Refused(now) = refused else {
        panic!("a refunded order advanced: {refused:?}");
    };
    assert_eq!(
        (now.status, now.payment_status),
        (OrderStatus::Confirmed, PaymentStatus::Refunded)
    );
}

pub async fn check_cancel_applies_only_from_the_given_statuses(store: &dyn OrderStore) {
    let o = paid_order(store).await;
    let advanced = store
        .advance(
            step(&o.id, OrderStatus::Confirmed, OrderStatus::Processing, None),
            update,
        )
        .await
        .unwrap();
    assert!(matches!(advanced, Transition::Applied(_)), "{advanced:?}");
    let refused = store
        .cancel(cancel_of(&o.id, None, CANCELLABLE), cancellation)
        .await
        .unwrap();
    assert!(matches!(refused, Transition::Refused(ref r) if r.status == OrderStatus::Processing));
    assert!(store
        .claim_releases(10, Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    let unshipped = &OrderStatus::UNSHIPPED;
    let Transition::Applied(done) = store
        .cancel(cancel_of(&o.id, None, unshipped), cancellation)
        .await
        .unwrap()
    else {
        panic!("a processing order was not cancelled from UNSHIPPED");
    };
    assert_eq!(done.status, OrderStatus::Cancelled);
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![o.id.clone()]
    );
    let shipped = paid_order(store).await;
    for (from, to) in [
        (OrderStatus::Confirmed, OrderStatus::Processing),
        (OrderStatus::Processing, OrderStatus::Shipped),
    ] {
        store
            .advance(step(&shipped.id, from, to, None), update)
            .await
            .unwrap();
    }
    assert!(matches!(
        store.cancel(cancel_of(&shipped.id, None, unshipped), cancellation).await.unwrap(),
        Transition::Refused(ref r) if r.status == OrderStatus::Shipped
    ));
}

pub async fn check_concurrent_cancels_and_payments_apply_once(store: Arc<dyn OrderStore>) {
    let store = &*store;
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let cancels = (0..8).map(|_| store.cancel(cancel_of(&o.id, None, CANCELLABLE), cancellation));
    let processed = PaymentChange::Processed {
        payment_id: "p".into(),
    };
    let payments = (0..8).map(|i| {
        let change = processed.clone();
        let id = o.id.clone();
        async move {
            store
                .apply_payment(&payment_event(&format!("ev-{i}"), &id, &change), update)
                .await
        }
    });
    let (cancels, payments) = tokio::join!(
        futures_util::future::join_all(cancels),
        futures_util::future::join_all(payments)
    );
    assert!(cancels.iter().all(Result::is_ok), "{cancels:?}");
    assert!(payments.iter().all(Result::is_ok), "{payments:?}");
    let applied = cancels
        .into_iter()
        .filter(|r| matches!(r, Ok(Transition::Applied(_))))
        .count();
    assert_eq!(applied, 1, "exactly one cancel applies");
    let paid = payments
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(Transition::Applied(_)))))
        .count();
    assert_eq!(paid, 1, "exactly one payment applies");
    let last = store.get(&o.id).await.unwrap().unwrap();
    assert_eq!(last.status, OrderStatus::Cancelled);
    assert_eq!(last.payment_status, PaymentStatus::Completed);
    assert_eq!(
        store.claim_releases(10, Duration::ZERO).await.unwrap(),
        vec![o.id.clone()]
    );
}
