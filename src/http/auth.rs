//! Request authentication as extractors: [`Auth`] (session cookie or Bearer API token, CSRF
//! on cookie-authenticated mutations, the per-principal API rate limit) and [`Writer`]
//! (owner or admin). Both carry the caller's org, so every query is org-scoped.

use super::AppState;
use crate::crypto;
use crate::db::users::{Credential, Principal};
use crate::db::{sessions, tokens};
use crate::error::{codes, ApiError};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use std::future::Future;
use std::pin::Pin;

pub const SESSION_COOKIE: &str = "sb_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    pub principal: Principal,
    pub ip: String,
}

impl Auth {
    pub fn org_id(&self) -> i64 {
        self.principal.org_id
    }

    /// The CSRF token when authenticated by session cookie.
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.principal.credential {
            Credential::Session { csrf_token, .. } => Some(csrf_token),
            Credential::Token { .. } => None,
        }
    }
}

/// An authenticated caller whose role may change things (owner or admin).
#[derive(Debug, Clone)]
pub struct Writer(pub Auth);

/// The client's IP: the peer address, or with `TRUST_PROXY` the first `X-Forwarded-For`.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    let info = req.connection_info();
    let ip = if trust_proxy {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    ip.map(|a| {
        a.parse::<std::net::SocketAddr>()
            .map(|s| s.ip().to_string())
            .unwrap_or_else(|_| a.to_string())
    })
    .unwrap_or_else(|| "unknown".into())
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already decided by [`authenticate`] for this request.
        if let Some(auth) = req.extensions().get::<Auth>().cloned() {
            return Box::pin(async move { Ok(auth) });
        }
        if let Some(AuthFailed(e)) = req.extensions().get::<AuthFailed>().cloned() {
            return Box::pin(async move { Err(e) });
        }
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_token(req);
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let csrf_sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let safe = is_safe(req.method());
        let trust_proxy = state.as_ref().is_some_and(|s| s.config.trust_proxy);
        let ip = client_ip(req, trust_proxy);
        let path = req.path().to_string();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("AppState is not registered".into()))?;
            let (secret, by_token) = match (bearer, cookie) {
                (Some(token), _) => (token, true),
                (None, Some(cookie)) => (cookie, false),
                (None, None) => return Err(ApiError::unauthenticated()),
            };
            // Limit before touching the database, keyed by a hash of the credential.
            let key = crypto::token_hash(&secret)[..16].to_string();
            state
                .rate_limits
                .check(&state.rate_limits.api, &key)
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
            let lookup = secret.clone();
            let principal = state
                .db
                .query(move |c| {
                    if by_token {
                        tokens::principal(c, &lookup)
                    } else {
                        sessions::principal(c, &lookup)
                    }
                })
                .await?;
            let principal = principal.ok_or_else(|| {
                if by_token {
                    ApiError::new(codes::INVALID_TOKEN, "The API token is unknown or revoked.")
                } else {
                    ApiError::new(
                        codes::SESSION_EXPIRED,
                        "Your session has expired or you were signed out.",
                    )
                }
            })?;
            if let Credential::Session { csrf_token, .. } = &principal.credential {
                if principal.two_factor_setup_required() && !enrolment_path(&path) {
                    return Err(two_factor_setup_required());
                }
                let ok = csrf_sent.as_deref().is_some_and(|sent| {
                    crypto::constant_time_eq(sent.as_bytes(), csrf_token.as_bytes())
                });
                if !safe && !ok {
                    return Err(ApiError::hinted(codes::CSRF_FAILED,
                        "The CSRF token is missing or wrong.",
                        "Send the csrfToken from POST /api/auth/login or GET /api/me in the X-CSRF-Token header, or reload the page.",
                    ));
                }
            }
            Ok(Auth { principal, ip })
        })
    }
}

/// What a session may reach before its owner or admin has turned on the two-factor sign-in
/// the org requires: who they are, enrolment, and signing out.
fn enrolment_path(path: &str) -> bool {
    path == "/api/me" || path.starts_with("/api/me/totp") || path == "/api/auth/logout"
}

fn two_factor_setup_required() -> ApiError {
    ApiError::hinted(codes::TWO_FACTOR_SETUP_REQUIRED,
        "Your organization requires two-factor sign-in for owners and admins, and it is not on for you yet.",
        "Turn it on in Settings → Two-factor sign-in (POST /api/me/totp, then /api/me/totp/confirm); everything else opens once it is on.",
    )
}

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Auth::from_request(req, payload);
        Box::pin(async move {
            let auth = auth.await?;
            if !auth.principal.role.can_write() {
                return Err(ApiError::hinted(codes::READ_ONLY,
                    format!("Your role ({}) can look but not change anything.", auth.principal.role),
                    "Ask an owner or admin of your organization to make the change or to give you the admin role.",
                ));
            }
            Ok(Writer(auth))
        })
    }
}

impl Auth {
    /// An audit row for an action by this caller in their org.
    pub fn audit<'a>(
        &'a self,
        action: &'a str,
        target: String,
        detail: serde_json::Value,
    ) -> crate::db::audit::Record<'a> {
        crate::db::audit::Record {
            org_id: Some(self.principal.org_id),
            user_id: Some(self.principal.user_id),
            actor: &self.principal.email,
            action,
            target: Some(target),
            detail: Some(detail),
            ip: Some(&self.ip),
        }
    }
}

/// The caller could not be authenticated; kept so the handler's extractor answers it at once.
#[derive(Clone)]
struct AuthFailed(ApiError);

/// Authenticates every `/api` request before its handler runs, so the handler's `Auth` /
/// `Writer` extractors are decided immediately: actix polls a handler's extractors
/// together, and a body that fails to parse would otherwise answer 400 before a slower
/// credential lookup could answer 401 or 403. Authorisation comes before validation.
pub async fn authenticate(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    match Auth::from_request(req.request(), &mut Payload::None).await {
        Ok(auth) => {
            req.extensions_mut().insert(auth);
        }
        Err(e) => {
            req.extensions_mut().insert(AuthFailed(e));
        }
    }
    next.call(req)
        .await
        .map(actix_web::dev::ServiceResponse::map_into_boxed_body)
}
