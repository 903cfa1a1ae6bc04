//! The order service as payments sees it: `GET /internal/orders/:id` and
//! `POST /internal/orders/:id/refund`, with the internal token.

use axum::http::StatusCode;
use serde_json::{json, Value};
use shared::client::ServiceClient;
use shared::ApiError;

/// What payments needs to know about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInfo {
    /// The order's owner.
    pub user_id: String,
    /// The order total in cents.
    pub total_cents: i64,
    /// The order status (`pending`, `confirmed`, `cancelled`, `failed`, …).
    pub status: String,
}

impl OrderInfo {
    /// Whether it can still be paid.
    pub fn is_payable(&self) -> bool {
        !matches!(self.status.as_str(), "cancelled" | "failed")
    }
}

/// The order side of a refund, as the order service decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundGate {
    /// The order after the decision.
    pub order: OrderInfo,
    /// True when this call cancelled the order (stock released, `OrderCancelled` emitted).
    pub cancelled: bool,
}

/// Client of the order service.
#[derive(Clone)]
pub struct OrdersClient(pub ServiceClient);

impl OrdersClient {
    /// The order `id`, `None` when the order service does not know it. Transport failures become
    /// 503/504.
    pub async fn get(&self, id: &str) -> Result<Option<OrderInfo>, ApiError> {
        let body = match self
            .0
            .get_json(&format!("/internal/orders/{id}"), None)
            .await
        {
            Ok(body) => body,
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e.to_api_error()),
        };
        order_info(id, &body["data"]).map(Some)
    }

    /// Asks the order service to take the order's side of a refund (`by_admin`: a return, else the
    /// owner's refund): it cancels the order when the refund may still do so, atomically with any
    /// other status change. `None` when the order is unknown.
    pub async fn prepare_refund(
        &self,
        id: &str,
        by_admin: bool,
    ) -> Result<Option<RefundGate>, ApiError> {
        let by = if by_admin { "admin" } else { "owner" };
        let body = match self
            .0
            .post_json(
                &format!("/internal/orders/{id}/refund"),
                &json!({ "by": by }),
            )
            .await
        {
            Ok(body) => body,
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e.to_api_error()),
        };
        Ok(Some(RefundGate {
            order: order_info(id, &body["data"]["order"])?,
            cancelled: body["data"]["cancelled"].as_bool() == Some(true),
        }))
    }
}

/// Reads the fields payments needs out of the order JSON.
fn order_info(id: &str, data: &Value) -> Result<OrderInfo, ApiError> {
    let user_id = data["userId"].as_str();
    let total = shared::money::parse_cents(&data["totalAmount"]).ok();
    let status = data["status"].as_str();
    match (user_id, total, status) {
        (Some(u), Some(t), Some(s)) => Ok(OrderInfo {
            user_id: u.to_string(),
            total_cents: t,
            status: s.to_string(),
        }),
        _ => {
            tracing::error!(order_id = %id, "order service answered an order without userId/totalAmount/status");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "Order service failed",
            ))
        }
    }
}
