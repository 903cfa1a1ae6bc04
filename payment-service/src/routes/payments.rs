//! `/api/payments`: pay an order (`POST /process`), read an order's payment, refund a payment.
//! Charges and refunds run on the service's task tracker through the worker's code path.

use super::openapi::{ChargeRefusals, ChargeSchema, OrderIdParam, PaymentIdParam, PaymentSchema};
use super::wire::{payment_json, ProcessPaymentRequest};
use crate::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use crate::error::Error;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared::auth::AuthUser;
use shared::error::{created, ok};
use shared::extract::{IdPath, JsonBody};
use shared::openapi::{Answer, ErrorAnswer, InvalidId, TokenRefusals};
use shared::store::StoreError;
use shared::ApiError;
use std::future::Future;

fn order_not_found() -> ApiError {
    ApiError::not_found("order_not_found", "Order not found")
}

fn payment_not_found() -> ApiError {
    ApiError::not_found("payment_not_found", "Payment not found")
}

fn accepted(p: &Payment) -> Response {
    let body = json!({"success": true, "data": payment_json(p)});
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// `POST /api/payments/process`.
#[utoipa::path(
    post,
    path = "/api/payments/process",
    tag = "payments",
    request_body = ChargeSchema,
    responses(
        (status = 201, description = "Charged within the request: the payment, `completed` or `failed` (then asking again charges again).", body = Answer<PaymentSchema>),
        (status = 202, description = "Being charged (by this request, which answered before the provider, or by an earlier one): ask again for the outcome.", body = Answer<PaymentSchema>),
        ChargeRefusals,
        TokenRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn process_payment(
    user: AuthUser,
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ProcessPaymentRequest>,
) -> Result<Response, ApiError> {
    let new = payable_order(&state, &user, &req).await?;
    let claim = match state.store.get_by_order(&req.order_id).await? {
        None => create_claimed(&state, new).await?,
        Some(existing) => claim_existing(&state, existing).await?,
    };
    match claim.claimed {
        Some(payment) => charge_within_request(&state, payment).await,
        None => Ok(accepted(&claim.current)),
    }
}

/// The payment the caller's order calls for: 404 when the order is missing or someone else's,
/// 400 when the client's amount differs from the order total, 409 when it can no longer be paid.
async fn payable_order(
    state: &AppState,
    user: &AuthUser,
    req: &ProcessPaymentRequest,
) -> Result<NewPayment, ApiError> {
    let order = state.orders.get(&req.order_id).await?;
    let order = order
        .filter(|o| user.is_admin() || o.user_id == user.user_id)
        .ok_or_else(order_not_found)?;
    if req.amount_cents.is_some_and(|a| a != order.total_cents) {
        return Err(ApiError::bad_request(
            "amount_mismatch",
            "Amount does not match the order total",
        ));
    }
    if !order.is_payable() {
        return Err(not_payable());
    }
    Ok(NewPayment {
        order_id: req.order_id.clone(),
        user_id: order.user_id,
        amount_cents: order.total_cents,
        method: req.method.unwrap_or(PaymentMethod::CreditCard),
    })
}

/// Charges a claimed payment on the tracker: 201 with the outcome when it finishes in time,
/// else 202 with the payment still processing (the charge goes on).
async fn charge_within_request(state: &AppState, payment: Payment) -> Result<Response, ApiError> {
    let processor = state.processor.clone();
    let id = payment.id.clone();
    let work = spawn_tracked(state, id.clone(), async move {
        processor.charge_claimed(payment).await
    });
    match tokio::time::timeout(state.charge_wait, work).await {
        Ok(Ok(Ok(done))) => Ok(created(payment_json(&done))),
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(join)) => Err(ApiError::internal_from(&join)),
        Err(_) => {
            let now = state.store.get(&id).await?.ok_or_else(payment_not_found)?;
            Ok(accepted(&now))
        }
    }
}

fn not_payable() -> ApiError {
    ApiError::conflict("order_not_payable", "Order can no longer be paid")
}

/// A payment this request took for charging (`claimed`), or the state it found instead.
struct Claim {
    claimed: Option<Payment>,
    current: Payment,
}

async fn create_claimed(state: &AppState, new: NewPayment) -> Result<Claim, ApiError> {
    let payment = Payment::from_new(new, PaymentStatus::Processing);
    match state.store.insert(&payment).await {
        Ok(()) => Ok(Claim {
            claimed: Some(payment.clone()),
            current: payment,
        }),
        // An OrderCreated event (or a concurrent request) recorded it first.
        Err(StoreError::Conflict(_)) => {
            let existing = state.store.get_by_order(&payment.order_id).await?;
            claim_existing(state, existing.ok_or_else(ApiError::internal)?).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn claim_existing(state: &AppState, existing: Payment) -> Result<Claim, ApiError> {
    match existing.status {
        PaymentStatus::Completed => Err(ApiError::conflict(
            "payment_already_completed",
            "Payment already processed for this order",
        )),
        PaymentStatus::Pending | PaymentStatus::Processing => Ok(Claim {
            claimed: None,
            current: existing,
        }),
        PaymentStatus::Failed => match state.store.claim_failed(&existing.id).await? {
            Some(p) => Ok(Claim {
                claimed: Some(p.clone()),
                current: p,
            }),
            None => {
                let now = state
                    .store
                    .get(&existing.id)
                    .await?
                    .ok_or_else(ApiError::internal)?;
                match now.status {
                    PaymentStatus::Pending | PaymentStatus::Processing => Ok(Claim {
                        claimed: None,
                        current: now,
                    }),
                    _ => Err(not_payable()),
                }
            }
        },
        PaymentStatus::Refunding | PaymentStatus::Refunded | PaymentStatus::Cancelled => {
            Err(not_payable())
        }
    }
}

/// Runs `work` on payment `id`, claimed by the caller, on the tracker. Shutdown stops it and
/// gives the claim back, for any replica (or the next start) to resume at once.
fn spawn_tracked<F>(
    state: &AppState,
    id: String,
    work: F,
) -> tokio::task::JoinHandle<Result<Payment, Error>>
where
    F: Future<Output = Result<Payment, Error>> + Send + 'static,
{
    let (cancel, store) = (state.cancel.clone(), state.store.clone());
    state.tasks.spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {
                if let Err(e) = store.give_back(std::slice::from_ref(&id)).await {
                    tracing::warn!(payment_id = %id, error = %e, "claim not given back; taken over once stale");
                }
                Err(Error::ShuttingDown)
            }
            r = work => r,
        }
    })
}

/// `GET /api/payments/:orderId` (owner or admin).
#[utoipa::path(
    get,
    path = "/api/payments/{order_id}",
    tag = "payments",
    params(OrderIdParam),
    responses(
        (status = 200, description = "The order's payment.", body = Answer<PaymentSchema>),
        InvalidId,
        TokenRefusals,
        (status = 404, description = "`payment_not_found` (also another user's).", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn get_payment(
    user: AuthUser,
    State(state): State<AppState>,
    IdPath(order_id): IdPath,
) -> Result<Response, ApiError> {
    let payment = state.store.get_by_order(&order_id).await?;
    let payment = payment
        .filter(|p| p.visible_to(&user.user_id, user.is_admin()))
        .ok_or_else(payment_not_found)?;
    Ok(ok(payment_json(&payment)))
}

/// `POST /api/payments/:id/refund` (owner or admin): only a completed payment, only once. The order
/// service decides the order's side first: an owner's refund is a cancellation, allowed only while
/// the order could still be cancelled (else 409 `order_not_refundable`); an admin's refund (a
/// return) is allowed in any state and cancels an order that has not shipped.
#[utoipa::path(
    post,
    path = "/api/payments/{id}/refund",
    tag = "payments",
    params(PaymentIdParam),
    responses(
        (status = 200, description = "The payment, refunded.", body = Answer<PaymentSchema>),
        InvalidId,
        TokenRefusals,
        (status = 404, description = "`payment_not_found` (also another user's) or `order_not_found`.", body = ErrorAnswer),
        (status = 409, description = "`payment_not_refundable` (not completed, or refunded already) or `order_not_refundable` (an owner's, once the order is being fulfilled).", body = ErrorAnswer),
        (status = 502, description = "`refund_failed`: the provider refused; the payment stays completed.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn refund_payment(
    user: AuthUser,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<Response, ApiError> {
    let payment = state.store.get(&id).await?;
    let payment = payment
        .filter(|p| p.visible_to(&user.user_id, user.is_admin()))
        .ok_or_else(payment_not_found)?;
    if payment.status != PaymentStatus::Completed {
        return Err(not_refundable());
    }
    let gate = state
        .orders
        .prepare_refund(&payment.order_id, user.is_admin())
        .await?
        .ok_or_else(order_not_found)?;
    if !user.is_admin() && gate.order.status != "cancelled" {
        return Err(ApiError::conflict(
            "order_not_refundable",
            format!(
                "Order can no longer be refunded (status {}); ask for a return",
                gate.order.status
            ),
        ));
    }
    // Only once: of concurrent refunds one claims the payment. The cancellation this request made
    // also asks for the refund through `OrderCancelled`; when that reached the worker first (the
    // payment then carries the request), this request answers with the refund the worker makes.
    let Some(claimed) = state.store.begin_refund(&id).await? else {
        return refunded_by_the_worker(&state, &id, gate.cancelled).await;
    };
    let processor = state.processor.clone();
    let work = spawn_tracked(&state, claimed.id.clone(), async move {
        processor.refund_claimed(claimed).await
    });
    match work.await {
        Ok(Ok(done)) => Ok(ok(payment_json(&done))),
        Ok(Err(e)) => Err(e.into()),
        Err(join) => Err(ApiError::internal_from(&join)),
    }
}

/// The answer to a refund whose claim was lost: the worker's refund when this request cancelled
/// the order and the cancellation's event reached the worker first, else 409.
async fn refunded_by_the_worker(
    state: &AppState,
    id: &str,
    cancelled_here: bool,
) -> Result<Response, ApiError> {
    let current = state.store.get(id).await?;
    if !(cancelled_here && current.is_some_and(|p| p.refund_requested)) {
        return Err(not_refundable());
    }
    let policy = state.processor.policy;
    let deadline = tokio::time::Instant::now() + policy.budget + policy.attempt_timeout;
    match state.processor.once_refund_settled(id, deadline).await? {
        Some(p) if p.status == PaymentStatus::Refunded => Ok(ok(payment_json(&p))),
        _ => Err(not_refundable()),
    }
}

fn not_refundable() -> ApiError {
    ApiError::conflict(
        "payment_not_refundable",
        "Can only refund completed payments",
    )
}
