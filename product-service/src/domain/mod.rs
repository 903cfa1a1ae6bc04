//! Domain types and rules of the catalogue: products, list filters and stock reservations.

pub mod product;
pub mod reservation;

pub use product::{Metadata, NewProduct, Product, ProductFilter, ProductPatch, SortOrder};
pub use reservation::{merge_lines, Reservation, ReservationLine, ReservationStatus, ReservedItem};
