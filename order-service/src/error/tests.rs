use super::*;
use test_support::answer;

#[test]
fn each_error_keeps_its_status_code_and_message() {
    let cases = [
        (
            Error::OrderNotFound,
            404,
            "order_not_found",
            "Order not found",
        ),
        (
            Error::IdempotencyKeyReused,
            422,
            "idempotency_key_reused",
            "Idempotency-Key was already used with a different request body",
        ),
        (
            Error::NotCancellable(OrderStatus::Shipped),
            409,
            "invalid_status_transition",
            "Cannot cancel order in status shipped",
        ),
        (
            Error::InvalidTransition {
                from: OrderStatus::Pending,
                to: OrderStatus::Shipped,
            },
            409,
            "invalid_status_transition",
            "Cannot change order status from pending to shipped",
        ),
        (
            Error::PaymentNotCompleted {
                to: OrderStatus::Processing,
                payment: PaymentStatus::Refunded,
            },
            409,
            "payment_not_completed",
            "Cannot change order status to processing: payment is refunded",
        ),
    ];
    for (e, status, code, message) in cases {
        assert_eq!(answer(e), (status, code, message.to_string()));
    }
}
