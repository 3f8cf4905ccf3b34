//! The plain-HTTP listener beside built-in HTTPS (SPEC §14): it answers the ACME CA's
//! HTTP-01 challenges and sends everything else to https with a 308 (method, body, path and
//! query kept), only ever to one of the appliance's own names.

use super::acme::Challenges;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;

pub struct Redirect {
    pub challenges: Option<Arc<Challenges>>,
    /// The names https is served under; the first is used for a request naming another.
    pub hosts: Vec<String>,
    pub https_port: u16,
}

impl Redirect {
    /// `https://host[:port]` for a request's `Host`, if it is one of ours.
    fn base_for(&self, req: &HttpRequest) -> String {
        let asked = req.connection_info().host().to_ascii_lowercase();
        let asked = match asked.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
            _ => asked,
        };
        let host = self
            .hosts
            .iter()
            .find(|h| **h == asked)
            .or(self.hosts.first())
            .cloned()
            .unwrap_or(asked);
        match self.https_port {
            443 => format!("https://{host}"),
            port => format!("https://{host}:{port}"),
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/acme-challenge/{token}",
        web::get().to(challenge),
    )
    .default_service(web::to(to_https));
}

async fn challenge(
    state: web::Data<Redirect>,
    token: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    match state.challenges.as_ref().and_then(|c| c.answer(&token)) {
        Some(key_authorization) => {
            log::info!(
                "answered the ACME HTTP-01 challenge for {}",
                req.connection_info().host()
            );
            HttpResponse::Ok()
                .content_type("application/octet-stream")
                .body(key_authorization)
        }
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such ACME challenge is pending\n"),
    }
}

async fn to_https(state: web::Data<Redirect>, req: HttpRequest) -> HttpResponse {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let location = format!("{}{path}", state.base_for(&req));
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, location.clone()))
        .content_type("text/plain; charset=utf-8")
        .body(format!("This appliance is served over https: {location}\n"))
}
