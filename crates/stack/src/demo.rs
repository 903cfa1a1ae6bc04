//! Demo data (`ecommerce --demo`, `DEMO_DATA=true`): a small catalogue in several categories, with
//! image URLs, so the API has something to show at once. Loaded before the services start; a
//! product whose SKU is there already is left as it is, so loading twice adds nothing.

use product_service::domain::NewProduct;
use product_service::store::ProductStore;
use shared::store::StoreError;

/// One demo product: name, description, price in cents, stock, category, SKU.
type Demo = (
    &'static str,
    &'static str,
    i64,
    i64,
    &'static str,
    &'static str,
);

/// The catalogue.
pub const PRODUCTS: [Demo; 36] = [
    (
        "Laptop Pro 14",
        "14-inch laptop, 16 GB RAM, 512 GB SSD",
        129_999,
        25,
        "Electronics",
        "DEMO-EL-001",
    ),
    (
        "Wireless Mouse",
        "Silent two-button mouse with USB receiver",
        1_999,
        200,
        "Electronics",
        "DEMO-EL-002",
    ),
    (
        "Mechanical Keyboard",
        "Tenkeyless, brown switches",
        7_999,
        80,
        "Electronics",
        "DEMO-EL-003",
    ),
    (
        "27-inch Monitor",
        "QHD IPS panel, 75 Hz",
        24_999,
        40,
        "Electronics",
        "DEMO-EL-004",
    ),
    (
        "Noise-Cancelling Headphones",
        "Over-ear, 30 h battery",
        17_999,
        60,
        "Electronics",
        "DEMO-EL-005",
    ),
    (
        "USB-C Hub",
        "7 ports with HDMI and card reader",
        3_499,
        150,
        "Electronics",
        "DEMO-EL-006",
    ),
    (
        "The Pragmatic Programmer",
        "20th anniversary edition, paperback",
        3_999,
        90,
        "Books",
        "DEMO-BK-001",
    ),
    (
        "Designing Data-Intensive Applications",
        "Paperback",
        4_499,
        70,
        "Books",
        "DEMO-BK-002",
    ),
    (
        "The Rust Programming Language",
        "Second edition, paperback",
        3_999,
        120,
        "Books",
        "DEMO-BK-003",
    ),
    (
        "Clean Architecture",
        "Hardcover",
        3_499,
        45,
        "Books",
        "DEMO-BK-004",
    ),
    (
        "Cooking for Engineers",
        "Recipes as diagrams",
        2_499,
        30,
        "Books",
        "DEMO-BK-005",
    ),
    (
        "A Short History of Nearly Everything",
        "Paperback",
        1_899,
        55,
        "Books",
        "DEMO-BK-006",
    ),
    (
        "Espresso Machine",
        "15-bar pump with milk frother",
        18_999,
        20,
        "Home",
        "DEMO-HM-001",
    ),
    (
        "Chef's Knife",
        "20 cm, stainless steel",
        5_999,
        75,
        "Home",
        "DEMO-HM-002",
    ),
    (
        "Cast Iron Skillet",
        "26 cm, pre-seasoned",
        3_999,
        60,
        "Home",
        "DEMO-HM-003",
    ),
    (
        "Desk Lamp",
        "LED, dimmable, warm to cool white",
        2_999,
        110,
        "Home",
        "DEMO-HM-004",
    ),
    (
        "Cotton Bed Sheets",
        "Queen size, 300 thread count",
        4_999,
        50,
        "Home",
        "DEMO-HM-005",
    ),
    (
        "Air Purifier",
        "HEPA filter, rooms up to 40 m²",
        14_999,
        15,
        "Home",
        "DEMO-HM-006",
    ),
    (
        "Yoga Mat",
        "6 mm, non-slip",
        2_499,
        140,
        "Sports",
        "DEMO-SP-001",
    ),
    (
        "Running Shoes",
        "Lightweight road shoes",
        8_999,
        65,
        "Sports",
        "DEMO-SP-002",
    ),
    (
        "Adjustable Dumbbells",
        "Pair, 2–24 kg each",
        29_999,
        12,
        "Sports",
        "DEMO-SP-003",
    ),
    (
        "Water Bottle",
        "Insulated steel, 750 ml",
        1_999,
        300,
        "Sports",
        "DEMO-SP-004",
    ),
    (
        "Cycling Helmet",
        "Ventilated, size M",
        5_999,
        35,
        "Sports",
        "DEMO-SP-005",
    ),
    (
        "Tennis Racket",
        "Graphite, 300 g",
        11_999,
        18,
        "Sports",
        "DEMO-SP-006",
    ),
    (
        "Denim Jacket",
        "Classic fit, medium wash",
        6_999,
        40,
        "Clothing",
        "DEMO-CL-001",
    ),
    (
        "Merino T-Shirt",
        "Crew neck, 150 g/m²",
        3_999,
        100,
        "Clothing",
        "DEMO-CL-002",
    ),
    (
        "Rain Coat",
        "Waterproof, packable hood",
        8_999,
        30,
        "Clothing",
        "DEMO-CL-003",
    ),
    (
        "Wool Socks",
        "Pack of three",
        1_499,
        250,
        "Clothing",
        "DEMO-CL-004",
    ),
    (
        "Chino Trousers",
        "Slim fit, stretch cotton",
        4_999,
        55,
        "Clothing",
        "DEMO-CL-005",
    ),
    (
        "Knit Beanie",
        "Ribbed, one size",
        1_299,
        120,
        "Clothing",
        "DEMO-CL-006",
    ),
    (
        "Building Blocks Set",
        "500 pieces, ages 6+",
        3_999,
        80,
        "Toys",
        "DEMO-TY-001",
    ),
    (
        "Wooden Train Set",
        "Tracks, bridge and two trains",
        4_999,
        25,
        "Toys",
        "DEMO-TY-002",
    ),
    (
        "Puzzle 1000 Pieces",
        "Mountain landscape",
        1_799,
        60,
        "Toys",
        "DEMO-TY-003",
    ),
    (
        "Remote Control Car",
        "1:18 scale, rechargeable",
        5_499,
        35,
        "Toys",
        "DEMO-TY-004",
    ),
    (
        "Board Game Classic",
        "Two to six players",
        2_999,
        45,
        "Toys",
        "DEMO-TY-005",
    ),
    (
        "Plush Bear",
        "30 cm, washable",
        1_999,
        90,
        "Toys",
        "DEMO-TY-006",
    ),
];

/// The image URL of a demo product: a placeholder picture service, seeded by the SKU so each
/// product always shows the same picture.
fn image(sku: &str) -> String {
    format!(
        "https://picsum.photos/seed/{}/640/480",
        sku.to_ascii_lowercase()
    )
}

/// Adds every demo product not there yet (by SKU); returns how many it added.
pub async fn load(store: &dyn ProductStore) -> Result<usize, StoreError> {
    let mut added = 0;
    for (name, description, price_cents, stock, category, sku) in PRODUCTS {
        let new = NewProduct {
            name: name.into(),
            description: description.into(),
            price_cents,
            stock,
            category: category.into(),
            sku: sku.into(),
            images: vec![image(sku)],
            is_active: true,
            metadata: None,
        };
        match store.create(new).await {
            Ok(_) => added += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(added)
}
