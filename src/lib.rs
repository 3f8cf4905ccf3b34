//! switchboard: a complete phone front desk for one small business on Twilio and Vapi.
//!
//! The crate is organised as in `CONVENTIONS.md`: `domain` is pure, `db` and `providers`
//! never import `http`, and `startup` wires everything into one actix-web server.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod flags;
pub mod frontdesk;
pub mod http;
pub mod live;
pub mod metrics;
pub mod passwords;
pub mod providers;
pub mod ratelimit;
pub mod saga;
pub mod simulator;
pub mod startup;
pub mod telephony;
pub mod tls;
pub mod twiml;

/// The version printed by `--version` and reported by `/api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
