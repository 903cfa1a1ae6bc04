//! The route label of a proxied request in metrics and logs: the path template the services'
//! OpenAPI documents give it (`/api/products/{id}`), so a label names an operation, never an id,
//! and their number stays bounded. A path no template matches is labelled with its route's prefix
//! (`/api/products`).

/// One path template, split at `/`: `None` where a parameter stands.
struct Template {
    label: Box<str>,
    segments: Vec<Option<Box<str>>>,
    literals: usize,
}

impl Template {
    fn new(template: &str) -> Self {
        let segments: Vec<Option<Box<str>>> = template
            .split('/')
            .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.into()))
            .collect();
        let literals = segments.iter().filter(|s| s.is_some()).count();
        Self {
            label: template.into(),
            segments,
            literals,
        }
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

/// Segments of the longest path labelled (the API's have at most six, counting the empty one
/// before the first `/`).
const MAX_SEGMENTS: usize = 8;

/// The templates, by their number of segments.
pub struct RouteLabels {
    by_len: Vec<Vec<Template>>,
}

impl RouteLabels {
    /// Labels for these path templates.
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_len: Vec<Vec<Template>> = Vec::new();
        for t in templates {
            let t = Template::new(t);
            let n = t.segments.len();
            if by_len.len() <= n {
                by_len.resize_with(n + 1, Vec::new);
            }
            by_len[n].push(t);
        }
        // The most literal template first: `/api/products/bulk` before `/api/products/{id}`.
        for group in &mut by_len {
            group.sort_by_key(|t| std::cmp::Reverse(t.literals));
        }
        Self { by_len }
    }

    /// The templates of the gateway's merged API document under `/api/`.
    pub fn of_the_api() -> Self {
        let doc = crate::routes::docs::document();
        Self::new(
            doc.paths
                .paths
                .keys()
                .map(String::as_str)
                .filter(|p| p.starts_with("/api/")),
        )
    }

    /// The template matching `path` (no query), if any. The path is split once, on the stack:
    /// this runs for every proxied request.
    pub fn label(&self, path: &str) -> Option<&str> {
        let mut parts = [""; MAX_SEGMENTS];
        let mut n = 0;
        for part in path.split('/') {
            *parts.get_mut(n)? = part;
            n += 1;
        }
        let parts = &parts[..n];
        self.by_len
            .get(n)?
            .iter()
            .find(|t| t.matches(parts))
            .map(|t| &*t.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> RouteLabels {
        RouteLabels::new([
            "/api/products",
            "/api/products/{id}",
            "/api/products/bulk",
            "/api/orders/{id}/cancel",
            "/api/payments/{id}/refund",
        ])
    }

    #[test]
    fn a_path_is_labelled_with_its_template() {
        let l = labels();
        assert_eq!(l.label("/api/products"), Some("/api/products"));
        let id = "/api/products/6b13f727b32d7cebb0000001";
        assert_eq!(l.label(id), Some("/api/products/{id}"));
        assert_eq!(l.label("/api/products/bulk"), Some("/api/products/bulk"));
        assert_eq!(
            l.label("/api/orders/abc/cancel"),
            Some("/api/orders/{id}/cancel")
        );
    }

    #[test]
    fn paths_no_template_matches_have_no_label() {
        let l = labels();
        assert_eq!(l.label("/api/products/"), None, "an empty id");
        assert_eq!(l.label("/api/orders/abc/ship"), None);
        assert_eq!(l.label("/api/products/a/b/c/d"), None);
        assert_eq!(l.label("/api/payments//refund"), None);
    }

    #[test]
    fn every_documented_operation_has_its_own_label() {
        let l = RouteLabels::of_the_api();
        assert_eq!(l.label("/api/auth/login"), Some("/api/auth/login"));
        assert_eq!(
            l.label("/api/auth/users/6b13f727b32d7cebb0000001"),
            Some("/api/auth/users/{id}")
        );
        assert_eq!(l.label("/api/products/bulk"), Some("/api/products/bulk"));
    }
}
