//! The JSON API under `/api` (SPEC §1): sign-in, tokens, users, and the org's read API.

pub mod read;
pub mod session;
pub mod tokens;
pub mod users;

use actix_web::web;
use serde::Deserialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/info", web::get().to(session::info))
        .route("/auth/login", web::post().to(session::login))
        .route("/auth/logout", web::post().to(session::logout))
        .route("/me", web::get().to(session::me))
        .route("/tokens", web::get().to(tokens::list))
        .route("/tokens", web::post().to(tokens::create))
        .route("/tokens/{id}", web::delete().to(tokens::revoke))
        .route("/users", web::get().to(users::list))
        .route("/users", web::post().to(users::create))
        .route("/numbers", web::get().to(read::numbers))
        .route("/agents", web::get().to(read::agents))
        .route("/agents/{id}", web::get().to(read::agent))
        .route("/audit", web::get().to(read::audit))
        .configure(super::health::api_routes);
}

/// `limit`/`before` paging shared by list endpoints: newest first, ids below `before`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub limit: Option<u32>,
    pub before: Option<i64>,
}

impl Paging {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, 500)
    }
}
