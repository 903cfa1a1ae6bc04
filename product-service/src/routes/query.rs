//! The `GET /api/products` query string: page, limit, filters (`isActive=false`: the inactive
//! products, for admins) and sort, validated with every bad or unknown parameter reported.

use crate::domain::{ProductFilter, SortOrder};
use shared::store::PageRequest;
use shared::validate::QueryValidator;
use shared::ApiError;
use std::collections::HashMap;

/// The page size of `GET /api/products` when the client names none.
pub const PAGE_SIZE: u64 = 20;

/// Validates `GET /api/products` query parameters (unknown ones are errors).
pub fn list_query(
    params: &HashMap<String, String>,
) -> Result<(ProductFilter, PageRequest), ApiError> {
    let mut q = QueryValidator::new(params);
    let page = q.page(PAGE_SIZE);
    let category = q.string("category", 100);
    let min_price_cents = q.money("minPrice");
    let max_price_cents = q.money("maxPrice");
    let search = q.string("search", 200);
    let is_active = q.bool("isActive").unwrap_or(true);
    let sort = q
        .one_of("sort", SortOrder::ALLOWED)
        .and_then(|s| SortOrder::parse(&s))
        .unwrap_or_default();
    q.finish()?;
    let filter = ProductFilter {
        is_active,
        category,
        min_price_cents,
        max_price_cents,
        search,
        sort,
    };
    Ok((filter, page))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_page_1_limit_20_newest_first() {
        let (filter, page) = list_query(&HashMap::new()).unwrap();
        assert_eq!(page, PageRequest { page: 1, limit: 20 });
        assert_eq!(filter, ProductFilter::default());
        assert_eq!(filter.sort, SortOrder::CreatedDesc);
    }

    #[test]
    fn prices_become_cents_and_every_bad_parameter_is_reported() {
        let (filter, _) = list_query(&params(&[("minPrice", "9.99"), ("sort", "price")])).unwrap();
        assert_eq!(filter.min_price_cents, Some(999));
        assert_eq!(filter.sort, SortOrder::PriceAsc);
        let err = list_query(&params(&[("limit", "0"), ("sort", "x"), ("zzz", "1")])).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "sort", "zzz"]);
    }

    #[test]
    fn is_active_picks_the_active_or_the_inactive_products() {
        let (filter, _) = list_query(&params(&[("isActive", "false"), ("sort", "-name")])).unwrap();
        assert_eq!(
            (filter.is_active, filter.sort),
            (false, SortOrder::NameDesc)
        );
        let (filter, _) = list_query(&params(&[("isActive", "true")])).unwrap();
        assert_eq!(filter, ProductFilter::default());
        let err = list_query(&params(&[("isActive", "no")])).unwrap_err();
        assert_eq!(err.errors[0].field, "isActive");
    }
}
