//! The bus subscriptions written out in the deployment files are the ones the launcher derives
//! from what each service acts on, so docker-compose and Kubernetes deliver the same events as
//! embedded mode.
#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The value given to `EVENT_SUBSCRIPTIONS` in `file` (`KEY: value` or `KEY: "value"`).
fn subscriptions_in(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("EVENT_SUBSCRIPTIONS:"))
        .unwrap_or_else(|| panic!("no EVENT_SUBSCRIPTIONS in {file}"));
    line.trim().trim_matches('"').to_string()
}

#[test]
fn compose_and_kubernetes_subscribe_each_service_to_what_it_acts_on() {
    let expected = stack::default_subscriptions();
    assert_eq!(
        expected,
        "orders=PaymentProcessed|PaymentFailed|PaymentRefunded,payments=OrderCreated|OrderCancelled"
    );
    for file in ["docker-compose.yml", "infra/k8s/base/configmap.yaml"] {
        assert_eq!(subscriptions_in(file), expected, "{file}");
    }
}
