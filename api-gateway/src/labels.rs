//! The route label of a proxied request in metrics and logs: the path template the services'
//! OpenAPI documents give it (`/api/products/{id}`), so a label names an operation, never an id,
//! and their number stays bounded. A path no template matches is labelled with its route's prefix
//! (`/api/products`). Each route holds only the templates under its own prefix, so labelling a
//! request compares the few segments after the prefix with a handful of templates.

/// Segments after a route's prefix in the longest path labelled (the API's have at most two).
const MAX_SEGMENTS: usize = 8;

/// One path template's segments after its route's prefix: `None` where a parameter stands.
struct Template {
    label: Box<str>,
    segments: Vec<Option<Box<str>>>,
    literals: usize,
}

impl Template {
    /// The template `label`, whose part after the prefix is `rest`; `None` when it has more
    /// than [`MAX_SEGMENTS`] segments.
    fn new(label: &str, rest: &str) -> Option<Self> {
        let mut parts = [""; MAX_SEGMENTS];
        let n = split(rest, &mut parts)?;
        let segments: Vec<Option<Box<str>>> = parts[..n]
            .iter()
            .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| (*s).into()))
            .collect();
        let literals = segments.iter().filter(|s| s.is_some()).count();
        Some(Self {
            label: label.into(),
            segments,
            literals,
        })
    }

    fn matches(&self, parts: &[&str]) -> bool {
        self.segments
            .iter()
            .zip(parts)
            .all(|(want, got)| match want {
                Some(literal) => **literal == **got,
                None => !got.is_empty(),
            })
    }
}

/// Splits `rest` (`""` or `/a/b…`) into its segments (`a`, `b`) in `parts` and gives their
/// number; `None` when `parts` cannot hold them all.
fn split<'a>(rest: &'a str, parts: &mut [&'a str]) -> Option<usize> {
    let mut rest = rest;
    let mut n = 0;
    while let Some(after) = rest.strip_prefix('/') {
        let end = after.bytes().position(|b| b == b'/').unwrap_or(after.len());
        *parts.get_mut(n)? = &after[..end];
        n += 1;
        rest = &after[end..];
    }
    Some(n)
}

/// The templates under one route's prefix, by their number of segments after it.
pub struct RouteLabels {
    prefix: Box<str>,
    by_len: Vec<Vec<Template>>,
}

impl RouteLabels {
    /// Labels for the templates among `templates` that are `prefix` or lie under it.
    pub fn new<'a>(prefix: &str, templates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_len: Vec<Vec<Template>> = Vec::new();
        for template in templates {
            let Some(t) = under(prefix, template).and_then(|rest| Template::new(template, rest))
            else {
                continue;
            };
            let n = t.segments.len();
            if by_len.len() <= n {
                by_len.resize_with(n + 1, Vec::new);
            }
            by_len[n].push(t);
        }
        // The most literal template first: `/bulk` before `/{id}`.
        for group in &mut by_len {
            group.sort_by_key(|t| std::cmp::Reverse(t.literals));
        }
        Self {
            prefix: prefix.into(),
            by_len,
        }
    }

    /// The template matching `path` (no query), if it lies under this prefix and one matches.
    /// The rest of the path is split once, on the stack: this runs for every proxied request.
    pub fn label(&self, path: &str) -> Option<&str> {
        let mut parts = [""; MAX_SEGMENTS];
        let n = split(under(&self.prefix, path)?, &mut parts)?;
        let parts = &parts[..n];
        self.by_len
            .get(n)?
            .iter()
            .find(|t| t.matches(parts))
            .map(|t| &*t.label)
    }
}

/// The path templates of the gateway's merged API document, which every route takes its own from.
pub fn api_templates() -> Vec<String> {
    let doc = crate::routes::docs::document();
    doc.paths.paths.keys().cloned().collect()
}

/// What follows `prefix` in `path` when the path is the prefix or lies under it (`""` or `/…`).
fn under<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(prefix: &str) -> RouteLabels {
        RouteLabels::new(
            prefix,
            [
                "/api/products",
                "/api/products/{id}",
                "/api/products/bulk",
                "/api/productsx/{id}",
                "/api/orders/{id}/cancel",
                "/api/payments/{id}/refund",
            ],
        )
    }

    #[test]
    fn a_path_is_labelled_with_its_template() {
        let l = labels("/api/products");
        assert_eq!(l.label("/api/products"), Some("/api/products"));
        let id = "/api/products/6b13f727b32d7cebb0000001";
        assert_eq!(l.label(id), Some("/api/products/{id}"));
        assert_eq!(l.label("/api/products/bulk"), Some("/api/products/bulk"));
        assert_eq!(
            labels("/api/orders").label("/api/orders/abc/cancel"),
            Some("/api/orders/{id}/cancel")
        );
    }

    #[test]
    fn paths_no_template_of_the_route_matches_have_no_label() {
        let l = labels("/api/products");
        assert_eq!(l.label("/api/products/"), None, "an empty id");
        assert_eq!(l.label("/api/products/a/b/c/d/e/f/g"), None);
        assert_eq!(
            l.label("/api/products/1/2/3/4/5/6/7/8/9"),
            None,
            "past the stack"
        );
        assert_eq!(l.label("/api/productsx/1"), None, "another prefix");
        assert_eq!(l.label("/api/orders/abc/cancel"), None, "another route");
        let orders = labels("/api/orders");
        assert_eq!(orders.label("/api/orders/abc/ship"), None);
        assert_eq!(orders.label("/api/orders/abc"), None);
        let payments = labels("/api/payments");
        assert_eq!(payments.label("/api/payments//refund"), None);
    }

    #[test]
    fn every_documented_operation_has_its_own_label() {
        let templates = api_templates();
        let of = |prefix| RouteLabels::new(prefix, templates.iter().map(String::as_str));
        let (auth, products) = (of("/api/auth"), of("/api/products"));
        assert_eq!(auth.label("/api/auth/login"), Some("/api/auth/login"));
        assert_eq!(
            auth.label("/api/auth/users/6b13f727b32d7cebb0000001"),
            Some("/api/auth/users/{id}")
        );
        assert_eq!(
            products.label("/api/products/bulk"),
            Some("/api/products/bulk")
        );
        assert_eq!(products.label("/api/auth/login"), None);
    }
}
