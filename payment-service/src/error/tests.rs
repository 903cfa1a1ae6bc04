use super::*;
use test_support::answer;

#[test]
fn each_error_keeps_its_status_code_and_message() {
    let cases = [
        (
            Error::RefundFailed("declined".into()),
            502,
            "refund_failed",
            "Refund processing failed",
        ),
        (
            Error::ShuttingDown,
            503,
            "service_unavailable",
            "Payment service is shutting down",
        ),
    ];
    for (e, status, code, message) in cases {
        assert_eq!(answer(e), (status, code, message.to_string()));
    }
}
