//! Pure domain types: no actix, no rusqlite. Parse, don't validate.

pub mod flags;
pub mod phone;
pub mod roles;

pub use flags::FlagKey;
pub use phone::PhoneNumber;
pub use roles::{NumberHandler, NumberOrigin, NumberRole, UserRole};
