//! Pure domain types: no actix, no rusqlite. Parse, don't validate.

pub mod agent;
pub mod blocklist;
pub mod callflow;
pub mod closing;
pub mod events;
pub mod flags;
pub mod ivr;
pub mod onboarding;
pub mod overview;
pub mod phone;
pub mod ring;
pub mod roles;
pub mod signature;
pub mod sms;
pub mod state;
pub mod textback;
pub mod totp;
pub mod typed;
pub mod vapi;
pub mod webhook;

pub use flags::FlagKey;
pub use phone::PhoneNumber;
pub use roles::{NumberHandler, NumberOrigin, NumberRole, NumberStatus, UserRole};
