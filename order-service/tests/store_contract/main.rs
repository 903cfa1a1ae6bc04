//! The `OrderStore` contract: every check runs against each backend (SQLite in memory and in a file
//! always; MongoDB when `MONGO_TEST_URL` is set, a fresh database per test).
#![allow(clippy::unwrap_used)]

use order_service::app::events::{cancellation, update};
use order_service::domain::{
    Order, OrderItem, OrderStatus, PaymentChange, PaymentEvent, PaymentStatus, ShippingAddress,
    Transition,
};
use order_service::store::{Cancellation, OrderStore, Step};
use serde_json::json;
use shared::events::{types, EventEnvelope};
use shared::ids::new_object_id;
use shared::mongo::MongoOptions;
use std::sync::Arc;
use std::time::Duration;

const CANCELLABLE: &[OrderStatus] = &OrderStatus::CANCELLABLE;

fn step<'a>(
    id: &'a str,
    from: OrderStatus,
    to: OrderStatus,
    tracking_number: Option<&'a str>,
) -> Step<'a> {
    Step {
        id,
        from,
        to,
        tracking_number,
    }
}

/// The payment event `id` about order `order_id`.
fn payment_event(id: &str, order_id: &str, change: &PaymentChange) -> PaymentEvent {
    PaymentEvent {
        id: id.to_owned(),
        order_id: order_id.to_owned(),
        change: change.clone(),
    }
}

fn cancel_of<'a>(id: &'a str, owner: Option<&'a str>, from: &'a [OrderStatus]) -> Cancellation<'a> {
    Cancellation { id, owner, from }
}

fn order(user: &str, created_at: i64) -> Order {
    let items = vec![OrderItem {
        product_id: new_object_id(),
        name: "Mouse".into(),
        price_cents: 1999,
        quantity: 2,
    }];
    Order {
        id: new_object_id(),
        user_id: user.into(),
        total_cents: Order::total_of(&items),
        items,
        status: OrderStatus::Pending,
        payment_status: PaymentStatus::Pending,
        payment_id: None,
        shipping_address: ShippingAddress {
            street: "1 Main St".into(),
            city: "Pune".into(),
            state: "MH".into(),
            zip_code: "411001".into(),
            country: "India".into(),
        },
        tracking_number: None,
        notes: None,
        created_at,
        updated_at: created_at,
    }
}

async fn insert(store: &dyn OrderStore, o: &Order) {
    let event = EventEnvelope::new(
        types::ORDER_CREATED,
        order_service::app::events::created(o),
        "test",
    );
    store.create(o, None, &event).await.unwrap();
}

async fn outbox_types(store: &dyn OrderStore) -> Vec<String> {
    let due = store.outbox().claim(100, Duration::ZERO).await.unwrap();
    due.into_iter().map(|e| e.event_type).collect()
}

mod mongo_data;
mod orders;
mod payments;
mod queues;
mod transitions;

use orders::*;
use payments::*;
use queues::*;
use transitions::*;

async fn connect(url: &str) -> Arc<dyn OrderStore> {
    order_service::store::connect(url, MongoOptions::default())
        .await
        .unwrap()
}

test_support::store_contract!(
    connect: connect,
    checks: [
        check_created_orders_read_back_with_their_event,
        check_idempotency_keys_are_unique_per_user,
        check_lists_filter_page_and_put_newest_first,
        check_cancel_is_conditional_owner_scoped_and_queues_release,
        check_advance_moves_only_from_the_expected_status,
        check_an_order_whose_payment_is_not_completed_never_advances,
        check_cancel_applies_only_from_the_given_statuses,
        check_payment_events_apply_once_per_event_id,
        check_release_queue_retries_later_and_finishes,
        check_outbox_delivers_retries_and_counts,
        check_claims_lease_the_work_until_its_outcome,
        check_refused_and_unknown_payment_events_are_recorded_once,
    ],
    sqlite_only: [check_concurrent_cancels_and_payments_apply_once],
    replicas: [check_replicas_claiming_at_once_never_share_an_event_or_a_release],
);

#[tokio::test]
async fn unknown_url_schemes_are_refused_with_the_supported_list() {
    let err = order_service::store::connect("postgres://localhost/x", MongoOptions::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("mongodb://"), "{err}");
}
