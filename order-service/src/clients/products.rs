//! The product service's reservation API (docs/internal-api.md): reserve an order's lines
//! all-or-nothing, and release them again. Errors become the answers our clients should see.

use crate::domain::{OrderItem, OrderLine};
use axum::http::StatusCode;
use serde_json::{json, Value};
use shared::client::{ClientError, ServiceClient};
use shared::ApiError;

/// Caller of the product service.
#[derive(Clone)]
pub struct ProductsClient {
    client: ServiceClient,
}

impl ProductsClient {
    /// Wraps a `ServiceClient` that carries the internal token.
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// Reserves the lines for `order_id`; answers the priced lines from the product service.
    pub async fn reserve(
        &self,
        order_id: &str,
        lines: &[OrderLine],
    ) -> Result<Vec<OrderItem>, ApiError> {
        let items: Vec<Value> = lines
            .iter()
            .map(|l| json!({"productId": l.product_id, "quantity": l.quantity}))
            .collect();
        let body = json!({"orderId": order_id, "items": items});
        let answer = self
            .client
            .post_json("/internal/reservations", &body)
            .await
            .map_err(|e| reservation_error(&e))?;
        parse_reserved(&answer["data"]["items"])
            .filter(|items| covers(items, lines))
            .ok_or_else(|| {
                tracing::error!(body = %answer, "unexpected reservation answer");
                upstream_failed()
            })
    }

    /// Releases the reservation of `order_id`. A missing reservation counts as released.
    pub async fn release(&self, order_id: &str) -> Result<(), ClientError> {
        let path = format!("/internal/reservations/{order_id}/release");
        match self.client.post_json(&path, &json!({})).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn upstream_failed() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "upstream_error",
        "Product service failed",
    )
}

/// The answer reserves exactly the requested lines (so prices cover every line ordered).
fn covers(items: &[OrderItem], lines: &[OrderLine]) -> bool {
    items.len() == lines.len()
        && lines.iter().all(|l| {
            items
                .iter()
                .any(|i| i.product_id == l.product_id && i.quantity == l.quantity)
        })
}

fn reservation_error(e: &ClientError) -> ApiError {
    let message = |body: &Value, default: &str| {
        body["error"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    match e {
        ClientError::Status { status, body, .. } if *status == StatusCode::NOT_FOUND => {
            ApiError::not_found("product_not_found", message(body, "Product not found"))
        }
        ClientError::Status { status, body, .. } if *status == StatusCode::CONFLICT => {
            ApiError::conflict("insufficient_stock", message(body, "Insufficient stock"))
        }
        // Our token or request refused: a fault on our side, not the client's.
        ClientError::Status { status, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
        {
            tracing::error!(error = %e, "product service refused our call");
            upstream_failed()
        }
        other => other.to_api_error(),
    }
}

fn parse_reserved(items: &Value) -> Option<Vec<OrderItem>> {
    items
        .as_array()?
        .iter()
        .map(|item| {
            Some(OrderItem {
                product_id: item["productId"].as_str()?.to_ascii_lowercase(),
                name: item["name"].as_str()?.to_string(),
                price_cents: shared::money::parse_cents(&item["price"]).ok()?,
                quantity: item["quantity"].as_i64().filter(|q| *q > 0)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reserved_lines_parse_prices_into_cents() {
        let items = json!([{"productId": "a", "name": "Mouse", "price": 19.99, "quantity": 2}]);
        let parsed = parse_reserved(&items);
        assert_eq!(parsed.as_ref().map(|p| p[0].price_cents), Some(1999));
        assert!(parse_reserved(&json!([{"productId": "a"}])).is_none());
        let asked = |q| OrderLine {
            product_id: "a".into(),
            quantity: q,
        };
        let parsed = parsed.unwrap();
        assert!(covers(&parsed, &[asked(2)]));
        assert!(!covers(&parsed, &[asked(3)]));
        assert!(!covers(&parsed, &[asked(2), asked(1)]));
    }

    #[test]
    fn not_found_and_conflict_keep_the_product_service_message() {
        let e = reservation_error(&ClientError::Status {
            service: "Product",
            status: StatusCode::CONFLICT,
            body: json!({"error": "Insufficient stock for Mouse"}),
        });
        assert_eq!(e.code, "insufficient_stock");
        assert_eq!(e.message, "Insufficient stock for Mouse");
        let e = reservation_error(&ClientError::Unavailable("Product", "refused".into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.message, "Product service unavailable");
    }
}
