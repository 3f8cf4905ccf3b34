//! The JSON API under `/api` (SPEC §1): sign-in, tokens, users, and the org's read API.

pub mod agents;
pub mod blocklist;
pub mod callbacks;
pub mod callflow;
pub mod calls;
pub mod contacts;
pub mod export;
pub mod flags;
pub mod inbox;
pub mod managed;
pub mod monitoring;
pub mod notifications;
pub mod numbers;
pub mod onboarding;
pub mod org;
pub mod overview;
pub mod read;
pub mod session;
pub mod todo;
pub mod tokens;
pub mod twofactor;
pub mod users;
pub mod views;
pub mod webhooks;

use crate::domain::PhoneNumber;
use crate::error::{codes, ApiError};
use actix_web::web;
use serde::Deserialize;

/// A number a person typed into `field`, read in the org's `country` (SPEC §7: numbers as
/// people type them); the error says what to enter.
pub fn typed_number(field: &str, raw: &str, country: &str) -> Result<PhoneNumber, ApiError> {
    crate::domain::typed::read(raw, country).map_err(|e| {
        ApiError::hinted(codes::INVALID_FIELD,
            format!("{field}: {e}"),
            "National numbers are read in the country set in Settings → Business; start a number from elsewhere with + and its country code.",
        )
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/info", web::get().to(session::info))
        .route("/auth/login", web::post().to(session::login))
        .route("/auth/logout", web::post().to(session::logout))
        .route("/me", web::get().to(session::me))
        .route("/events", web::get().to(crate::http::live::events))
        .route("/me/notifications", web::get().to(notifications::get))
        .route("/me/notifications", web::put().to(notifications::put))
        .route("/me", web::patch().to(notifications::patch_me))
        .route("/me/push", web::post().to(notifications::subscribe))
        .route("/me/push", web::delete().to(notifications::unsubscribe))
        .route(
            "/me/push/{id}",
            web::delete().to(notifications::remove_device),
        )
        .route("/contacts", web::get().to(contacts::list))
        .service(
            web::resource("/contacts/import")
                .app_data(web::PayloadConfig::new(contacts::MAX_IMPORT_BYTES))
                .route(web::post().to(contacts::import)),
        )
        .route("/contacts/{number}", web::get().to(contacts::get))
        .route("/contacts/{number}", web::put().to(contacts::put))
        .route("/contacts/{number}", web::delete().to(contacts::delete))
        .route("/webhooks", web::get().to(webhooks::list))
        .route("/webhooks", web::post().to(webhooks::create))
        .route("/webhooks/{id}", web::patch().to(webhooks::patch))
        .route("/webhooks/{id}", web::delete().to(webhooks::delete))
        .route("/webhooks/{id}/rotate", web::post().to(webhooks::rotate))
        .route("/webhooks/{id}/test", web::post().to(webhooks::test))
        .route(
            "/webhooks/{id}/deliveries",
            web::get().to(webhooks::deliveries),
        )
        .route("/callbacks", web::get().to(callbacks::list))
        .route("/callbacks", web::post().to(callbacks::create))
        .route("/me/totp", web::post().to(twofactor::start))
        .route("/me/totp", web::delete().to(twofactor::disable))
        .route("/me/totp/confirm", web::post().to(twofactor::confirm))
        .route("/org/two-factor", web::put().to(twofactor::set_requirement))
        .route("/tokens", web::get().to(tokens::list))
        .route("/tokens", web::post().to(tokens::create))
        .route("/tokens/{id}", web::delete().to(tokens::revoke))
        .route("/overview", web::get().to(overview::get))
        .route(
            "/monitoring/webhook_ledger",
            web::get().to(monitoring::ledger),
        )
        .route("/monitoring/{view}", web::get().to(monitoring::get))
        .route("/users", web::get().to(users::list))
        .route("/users", web::post().to(users::create))
        .route("/users/{id}", web::patch().to(users::change))
        .route("/users/{id}", web::delete().to(users::remove))
        .route("/org", web::get().to(org::get))
        .route("/org", web::patch().to(org::patch))
        .route("/org/closed", web::get().to(org::closed))
        .route("/org/closed", web::put().to(org::close))
        .route("/org/closed", web::delete().to(org::reopen))
        .route("/numbers", web::get().to(read::numbers))
        .route("/numbers/importable", web::get().to(numbers::importable))
        .route("/numbers/import", web::post().to(numbers::import))
        .route("/numbers/{e164}", web::patch().to(numbers::patch))
        .route("/numbers/{e164}", web::delete().to(numbers::delete))
        .route("/agents", web::get().to(read::agents))
        .route("/agents", web::post().to(agents::create))
        .route("/agents/{id}", web::get().to(read::agent))
        .route("/agents/{id}", web::patch().to(agents::update))
        .route("/agents/{id}", web::delete().to(agents::delete))
        .configure(managed::routes)
        .route("/audit", web::get().to(read::audit))
        .route("/blocklist", web::get().to(blocklist::list))
        .route("/blocklist", web::post().to(blocklist::add))
        .route("/blocklist/{id}", web::delete().to(blocklist::remove))
        .route("/calls", web::get().to(calls::list))
        .route("/calls/consent.csv", web::get().to(calls::consent_csv))
        .route("/calls/{id}", web::get().to(calls::detail))
        .route("/calls/{id}/follow-up", web::post().to(todo::follow_up))
        .route("/todo", web::get().to(todo::list))
        .route("/voicemails", web::get().to(inbox::voicemails))
        .route("/voicemails/{id}", web::patch().to(inbox::update_voicemail))
        .route(
            "/voicemails/{id}/recording",
            web::get().to(inbox::recording),
        )
        .route("/messages", web::get().to(inbox::messages))
        .route("/inbox", web::get().to(inbox::counts))
        .route("/leads", web::get().to(inbox::leads))
        .route("/leads/{id}", web::get().to(inbox::lead))
        .route("/leads/{id}", web::patch().to(inbox::update_lead))
        .route("/leads/{id}/messages", web::post().to(inbox::reply))
        .route("/feature-flags", web::get().to(flags::list))
        .route("/feature-flags/{key}", web::patch().to(flags::set_global))
        .route(
            "/feature-flags/{key}/override",
            web::put().to(flags::set_override),
        )
        .route(
            "/feature-flags/{key}/override",
            web::delete().to(flags::clear_override),
        )
        .route("/call-flow", web::get().to(callflow::get))
        .route("/call-flow", web::put().to(callflow::put))
        .route("/call-flow/preview", web::post().to(callflow::preview))
        .route("/onboarding-requests", web::get().to(onboarding::list))
        .route(
            "/onboarding-requests/{id}/approve",
            web::post().to(onboarding::approve),
        )
        .route(
            "/onboarding-requests/{id}/reject",
            web::post().to(onboarding::reject),
        )
        .route(
            "/onboarding-requests/{id}/provision",
            web::post().to(onboarding::provision_line),
        )
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
        page_limit(self.limit)
    }
}

/// A page size: 50 unless asked, at most 500.
pub fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(50).clamp(1, 500)
}
