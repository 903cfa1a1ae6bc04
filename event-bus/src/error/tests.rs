use super::*;
use test_support::answer;

#[test]
fn an_unknown_event_is_404_with_its_id() {
    assert_eq!(
        answer(Error::EventNotFound("e-1".into())),
        (404, "event_not_found", "Event e-1 not found".to_string())
    );
}
