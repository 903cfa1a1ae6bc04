//! Checks of text: control characters, emails, and JSON stored as sent.

use super::Validator;
use serde_json::Value;

pub(super) const CONTROL_MESSAGE: &str = "must not contain control characters";

/// Whether a text may span lines (tab and newline allowed) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lines {
    Single,
    Multi,
}

/// NUL and every other control character (C0, DEL, C1), except tab and newline in multi-line text.
pub(super) fn has_control(s: &str, lines: Lines) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(lines == Lines::Multi && matches!(c, '\t' | '\n')))
}

/// Checks free-form JSON that is stored as sent (product `metadata`) at `path`: object keys must
/// not start with `$` or contain `.` (MongoDB would read them as operators and paths), and no key
/// or string may hold a control character. Every offending place is reported.
pub fn check_stored_json(v: &mut Validator<'_>, path: &str, value: &Value) {
    match value {
        Value::String(s) if has_control(s, Lines::Single) => {
            v.error_at(path.into(), CONTROL_MESSAGE);
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_stored_json(v, &format!("{path}.{i}"), item);
            }
        }
        Value::Object(obj) => {
            for (key, item) in obj {
                let at = format!("{path}.{key}");
                if key.starts_with('$') || key.contains('.') {
                    v.error_at(at.clone(), "key must not start with \"$\" or contain \".\"");
                } else if has_control(key, Lines::Single) {
                    v.error_at(at.clone(), "key must not contain control characters");
                }
                check_stored_json(v, &at, item);
            }
        }
        _ => {}
    }
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain of sane labels.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || s.chars().any(char::is_whitespace)
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}
