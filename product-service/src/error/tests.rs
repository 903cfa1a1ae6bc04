use super::*;
use test_support::answer;

#[test]
fn store_failures_on_product_routes_name_the_product() {
    assert_eq!(
        answer(Error::of_product(StoreError::NotFound)),
        (404, "product_not_found", "Product not found".into())
    );
    assert_eq!(
        answer(Error::of_product(StoreError::Conflict("sku".into()))),
        (
            409,
            "sku_taken",
            "Product with this SKU already exists".into()
        )
    );
    let (status, _, _) = answer(Error::of_product(StoreError::Unavailable("down".into())));
    assert_eq!(status, 503);
}

#[test]
fn an_inactive_list_for_a_non_admin_is_403_forbidden() {
    assert_eq!(
        answer(Error::InactiveListForbidden),
        (
            403,
            "forbidden",
            "Only admins may list inactive products".into()
        )
    );
}
