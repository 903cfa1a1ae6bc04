//! `/api/orders`: place, list, read, cancel, and (admins) move an order along fulfilment.

use super::openapi::{
    ListParams, NewOrderSchema, OrderIdParam, OrderSchema, PlaceHeaders, PlaceRefusals,
    StatusChangeSchema,
};
use super::wire::{order_json, CreateOrderRequest, UpdateStatusRequest};
use crate::app::{self, events, place_order};
use crate::domain::{OrderStatus, Transition};
use crate::error::Error;
use crate::state::AppState;
use crate::store::{OrderFilter, Step};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use shared::auth::{AuthUser, RequireAdmin};
use shared::error::{created, ok, paginated, Pagination};
use shared::extract::{IdPath, JsonBody, QueryMap};
use shared::openapi::{
    AdminRefusals, Answer, ErrorAnswer, InvalidId, PageAnswer, PageParams, TokenRefusals,
};
use shared::validate::QueryValidator;
use shared::ApiError;

/// The page size of `GET /api/orders` when the client names none (the original's).
const PAGE_SIZE: u64 = 10;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match raw.to_str() {
        Ok(k) if (1..=200).contains(&k.chars().count()) => Ok(Some(k.to_string())),
        _ => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-200 visible ASCII characters",
        )),
    }
}

/// `POST /api/orders`.
#[utoipa::path(
    post,
    path = "/api/orders",
    tag = "orders",
    params(PlaceHeaders),
    request_body = NewOrderSchema,
    responses(
        (status = 201, description = "The order placed (pending until paid), or the one the same `Idempotency-Key` placed (`idempotent-replayed: true`).", body = Answer<OrderSchema>),
        PlaceRefusals,
        TokenRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn create_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(CreateOrderRequest(new)): JsonBody<CreateOrderRequest>,
) -> Result<Response, Error> {
    let key = idempotency_key(&headers)?;
    let placed = place_order(&state, &user.user_id, new, key)
        .await
        .map_err(ApiError::from)
        .inspect_err(|e| {
            state.count_event("order_rejected", e.code);
        })?;
    let outcome = if placed.replayed {
        "replayed"
    } else {
        "created"
    };
    state.count_event("order_created", outcome);
    let mut res = created(order_json(&placed.order));
    if placed.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// `GET /api/orders?page&limit&status[&userId]`: own orders; admins see all.
#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "orders",
    params(PageParams<PAGE_SIZE>, ListParams),
    responses(
        (status = 200, description = "A page of the caller's orders (an admin's: everyone's), newest first.", body = PageAnswer<OrderSchema>),
        (status = 400, description = "`validation_failed`: a bad or unknown parameter.", body = ErrorAnswer),
        TokenRefusals,
        (status = 403, description = "`forbidden`: another user's orders, asked by a non-admin.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
    QueryMap(params): QueryMap,
) -> Result<Response, Error> {
    let mut q = QueryValidator::new(&params);
    let page = q.page(PAGE_SIZE);
    let status = q.one_of("status", OrderStatus::ALL);
    let user_id = q.object_id("userId");
    q.finish()?;
    let user_id = match (user.is_admin(), user_id) {
        (true, filter) => filter,
        (false, Some(other)) if other != user.user_id => {
            return Err(ApiError::forbidden("Only admins may list other users' orders").into())
        }
        (false, _) => Some(user.user_id.clone()),
    };
    let filter = OrderFilter {
        user_id,
        status: status.as_deref().and_then(OrderStatus::parse),
    };
    let (orders, total) = state.store.list(&filter, page).await?;
    let data = orders.iter().map(order_json).collect();
    Ok(paginated(
        data,
        Pagination::new(page.page, page.limit, total),
    ))
}

/// `GET /api/orders/:id`: own order, or any for admins; others' are 404.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "orders",
    params(OrderIdParam),
    responses(
        (status = 200, description = "The order.", body = Answer<OrderSchema>),
        InvalidId,
        TokenRefusals,
        (status = 404, description = "`order_not_found` (also another user's order).", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Response, Error> {
    match state.store.get(&id).await? {
        Some(order) if user.is_admin() || order.user_id == user.user_id => {
            Ok(ok(order_json(&order)))
        }
        _ => Err(Error::OrderNotFound),
    }
}

/// `PUT /api/orders/:id/cancel`: from pending/confirmed only; stock is released in the background;
/// a paid order answers `paymentStatus: "refund_pending"` (as GET shows it until the refund is done).
#[utoipa::path(
    put,
    path = "/api/orders/{id}/cancel",
    tag = "orders",
    params(OrderIdParam),
    responses(
        (status = 200, description = "The order, cancelled. A paid one is refunded in the background: its `paymentStatus` is `refund_pending` (here and in every read) until the refund is done, then `refunded`.", body = Answer<OrderSchema>),
        InvalidId,
        TokenRefusals,
        (status = 404, description = "`order_not_found` (also another user's order).", body = ErrorAnswer),
        (status = 409, description = "`invalid_status_transition`: no longer pending or confirmed.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Response, Error> {
    let owner = (!user.is_admin()).then_some(user.user_id.as_str());
    match app::cancel(&state, &id, owner, &OrderStatus::CANCELLABLE, "cancelled").await? {
        Transition::Applied(order) => Ok(ok(order_json(&order))),
        Transition::NotFound => Err(Error::OrderNotFound),
        Transition::Refused(order) => Err(Error::NotCancellable(order.status)),
    }
}

/// `PUT /api/orders/:id/status` (admin): one step along confirmed → processing → shipped → delivered,
/// only while the payment is `completed` (a refunded order is never shipped).
#[utoipa::path(
    put,
    path = "/api/orders/{id}/status",
    tag = "orders",
    params(OrderIdParam),
    request_body = StatusChangeSchema,
    responses(
        (status = 200, description = "The order after the step.", body = Answer<OrderSchema>),
        (status = 400, description = "`validation_failed`, `malformed_json` or `invalid_id`.", body = ErrorAnswer),
        AdminRefusals,
        (status = 404, description = "`order_not_found`.", body = ErrorAnswer),
        (status = 409, description = "`invalid_status_transition` (not the next step) or `payment_not_completed`.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn update_status(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    IdPath(id): IdPath,
    JsonBody(req): JsonBody<UpdateStatusRequest>,
) -> Result<Response, Error> {
    let refused = |from: OrderStatus| Error::InvalidTransition {
        from,
        to: req.status,
    };
    let Some(from) = req.status.admin_predecessor() else {
        let order = state.store.get(&id).await?.ok_or(Error::OrderNotFound)?;
        return Err(refused(order.status));
    };
    let step = Step {
        id: &id,
        from,
        to: req.status,
        tracking_number: req.tracking_number.as_deref(),
    };
    match state.store.advance(step, events::update).await? {
        Transition::Applied(order) => {
            state.event_written();
            state.count_event("order_status_changed", order.status.as_str());
            Ok(ok(order_json(&order)))
        }
        Transition::NotFound => Err(Error::OrderNotFound),
        Transition::Refused(order) if order.status == from => Err(Error::PaymentNotCompleted {
            to: req.status,
            payment: order.payment_status,
        }),
        Transition::Refused(order) => Err(refused(order.status)),
    }
}
