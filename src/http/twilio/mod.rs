//! Twilio webhooks (SPEC §3): every route is verified by signature before anything else,
//! recorded in the webhook ledger and metrics, and answers TwiML (or 4xx with a reason).

mod routes;

use super::envelope::{self, twiml_response, Refused, WEBHOOK_BODY_LIMIT};
use crate::app::AppState;
use crate::domain::signature::{self, Algorithm, Signed, Verdict};
use crate::domain::webhook::{TwilioRoute, TWILIO_SCOPE};
use crate::frontdesk::FrontdeskError;
use crate::twiml::TwiML;
use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, Responder};
use std::future::Future;
use std::pin::Pin;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(TWILIO_SCOPE)
            .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
            .wrap(from_fn(envelope::twilio))
            .configure(routes::configure),
    );
}

/// A verified Twilio request: its parameters and where it came from.
pub struct TwilioRequest {
    pub params: Vec<(String, String)>,
    pub account_sid: Option<String>,
}

impl TwilioRequest {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn owned(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string).filter(|v| !v.is_empty())
    }

    /// A required parameter, or a 400 naming it.
    pub fn require(&self, key: &str) -> Result<String, FrontdeskError> {
        self.owned(key)
            .ok_or_else(|| FrontdeskError::BadRequest(format!("the {key} parameter is missing")))
    }

    /// A required parameter from a closed set (`parse`), or a 400 naming it and the values
    /// it may take.
    pub fn require_as<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, FrontdeskError> {
        parse(&self.require(key)?).map_err(|e| FrontdeskError::BadRequest(format!("{key}: {e}")))
    }
}

/// What a route answers.
pub enum Reply {
    TwiML(TwiML),
    /// 200 with an empty `<Response/>`: for callbacks whose answer Twilio ignores.
    Empty,
}

/// The URL Twilio signed: `PUBLIC_URL` (or, with `TRUST_PROXY`, the forwarded scheme and
/// host) + the path and query exactly as received.
fn signed_url(state: &AppState, req: &HttpRequest) -> String {
    let raw = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    if state.config.trust_proxy {
        let h = req.headers();
        let proto = h.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
        let host = h.get("x-forwarded-host").and_then(|v| v.to_str().ok());
        if let (Some(proto), Some(host)) = (proto, host) {
            return format!(
                "{}://{}{raw}",
                proto.split(',').next().unwrap_or(proto).trim(),
                host.split(',').next().unwrap_or(host).trim()
            );
        }
    }
    format!("{}{raw}", state.public_url)
}

/// The signature check's answer: the request and how it was authenticated, or the
/// verdict and why it was refused.
type Checked = Result<(TwilioRequest, Verdict), (Verdict, String)>;

/// What the signature check needs from the request (an `HttpRequest` cannot leave its thread).
struct Incoming {
    is_json: bool,
    signature: Option<String>,
    /// `X-Twilio-Webhooks-Signature-Settings`, present when a SharedKey signed the request.
    signature_settings: Option<String>,
    path: String,
}

/// The request's parameters (form bodies) and the AccountSid that chooses the signing key.
fn parse(is_json: bool, body: &[u8]) -> TwilioRequest {
    if is_json {
        let account_sid = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("AccountSid")
                    .and_then(|s| s.as_str())
                    .map(str::to_string)
            });
        return TwilioRequest {
            params: Vec::new(),
            account_sid,
        };
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let account_sid = params
        .iter()
        .find(|(k, _)| k == "AccountSid")
        .map(|(_, v)| v.clone());
    TwilioRequest {
        params,
        account_sid,
    }
}

fn verify(
    state: &AppState,
    req: &Incoming,
    request: TwilioRequest,
    body: &[u8],
    url: &str,
) -> Checked {
    if state.config.insecure_skip_twilio_signature {
        log::warn!(
            "Twilio signature NOT checked for {} (SWITCHBOARD_INSECURE_SKIP_TWILIO_SIGNATURE=true)",
            req.path
        );
        return Ok((request, Verdict::Skipped));
    }
    let Some(signature) = req.signature.as_deref() else {
        return Err((Verdict::Missing, "no X-Twilio-Signature header".into()));
    };
    let Some(sid) = request.account_sid.clone() else {
        return Err((
            Verdict::Invalid,
            "no AccountSid parameter to choose the signing key".into(),
        ));
    };
    // The master's token is in memory; a subaccount's is read (and decrypted) from the
    // database, which is why `verdict` runs this off the async executor.
    let creds = match state.accounts.in_memory(&sid) {
        Some(master) => Some(master.clone()),
        None => match state.db.conn() {
            Ok(conn) => state.accounts.lookup(&conn, Some(&sid)),
            Err(e) => return Err((Verdict::Invalid, format!("database unavailable: {e}"))),
        },
    };
    let Some(creds) = creds else {
        return Err((Verdict::Invalid, format!("unknown AccountSid {sid}")));
    };
    let signed = if req.is_json {
        Signed::Body(body)
    } else {
        Signed::Form(&request.params)
    };
    // The signature settings header chooses the algorithm and the key; without it the
    // account's auth token and SHA-1. The two never stand in for each other.
    let (alg, key) = match req.signature_settings.as_deref() {
        None => (Algorithm::Sha1, creds.auth_token.clone()),
        Some(header) => shared_key(state, header).map_err(|reason| {
            log::warn!("Twilio request to {} refused: {reason}", req.path);
            (Verdict::Invalid, reason)
        })?,
    };
    match signature::verify_with(alg, &key, url, signed, signature) {
        Some(_) => Ok((request, Verdict::Valid)),
        None => Err((
            Verdict::Invalid,
            format!("signature ({alg:?}) does not match the URL {url} (check SWITCHBOARD_PUBLIC_URL and any proxy rewriting)"),
        )),
    }
}

/// The algorithm and secret named by `X-Twilio-Webhooks-Signature-Settings`, or why the
/// request cannot be checked (fails closed).
fn shared_key(state: &AppState, header: &str) -> Result<(Algorithm, String), String> {
    let settings = signature::parse_settings(header)
        .map_err(|e| format!("X-Twilio-Webhooks-Signature-Settings: {e}"))?;
    match (
        &state.config.twilio_shared_key_sid,
        &state.config.twilio_shared_key_secret,
    ) {
        (Some(sid), Some(secret)) if *sid == settings.key => {
            Ok((settings.algorithm, secret.expose().to_string()))
        }
        (Some(sid), _) => Err(format!(
            "signed with SharedKey {} but SWITCHBOARD_TWILIO_SHARED_KEY_SID is {sid}",
            settings.key
        )),
        (None, _) => Err(format!(
            "signed with SharedKey {} but no SharedKey is configured (SWITCHBOARD_TWILIO_SHARED_KEY_SID / _SECRET)",
            settings.key
        )),
    }
}

/// A Twilio webhook whose signature was checked (or, by configuration, skipped): the
/// guard of every Twilio route, as an extractor. A refused request never reaches the
/// handler; its answer, ledger row and metrics come from the envelope middleware.
pub struct TwilioWebhook {
    pub route: TwilioRoute,
    pub request: TwilioRequest,
    /// The query string as received (the menu's `attempt`).
    pub query: String,
}

impl FromRequest for TwilioWebhook {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move { TwilioWebhook::check(req, body.await?).await })
    }
}

impl TwilioWebhook {
    async fn check(req: HttpRequest, body: web::Bytes) -> Result<Self, actix_web::Error> {
        let state = envelope::state(&req)?;
        // The router put the route beside its resource (see `routes`).
        let route = *req
            .app_data::<TwilioRoute>()
            .ok_or_else(|| actix_web::error::ErrorNotFound("No such Twilio route."))?;
        match verdict(&state, &req, &body).await {
            Ok((request, verdict)) => {
                // A dialled leg's webhooks (screening) belong to the caller's call.
                let reference = request
                    .owned("ParentCallSid")
                    .or_else(|| request.owned("CallSid"))
                    .or_else(|| request.owned("MessageSid"))
                    .or_else(|| request.owned("SmsSid"));
                envelope::note(&req, route.path(), verdict, reference, route.on_failure());
                Ok(TwilioWebhook {
                    route,
                    request,
                    query: req.query_string().to_string(),
                })
            }
            Err((verdict, reason)) => {
                envelope::note(&req, route.path(), verdict, None, route.on_failure());
                Err(Refused {
                    status: StatusCode::FORBIDDEN,
                    reason,
                    message: "Twilio signature verification failed.".into(),
                }
                .into())
            }
        }
    }
}

/// Checks the request's signature. Signed by the master account (its token is in memory):
/// verified right here; otherwise the key comes from the database, on the blocking pool.
async fn verdict(state: &web::Data<AppState>, req: &HttpRequest, body: &web::Bytes) -> Checked {
    let url = signed_url(state, req);
    let h = req.headers();
    let r = Incoming {
        is_json: h
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json")),
        signature: h
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        signature_settings: h
            .get("x-twilio-webhooks-signature-settings")
            .map(|v| v.to_str().unwrap_or("(not text)").to_string()),
        path: req.path().to_string(),
    };
    let request = parse(r.is_json, body);
    let by_master = request
        .account_sid
        .as_deref()
        .is_some_and(|sid| state.accounts.in_memory(sid).is_some());
    if by_master || state.config.insecure_skip_twilio_signature {
        return verify(state, &r, request, body, &url);
    }
    let (st, b) = (state.clone(), body.clone());
    match web::block(move || verify(&st, &r, request, &b, &url)).await {
        Ok(v) => v,
        Err(e) => Err((Verdict::Invalid, format!("verification task failed: {e}"))),
    }
}

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        match self {
            Reply::TwiML(t) => twiml_response(StatusCode::OK, &t),
            Reply::Empty => twiml_response(StatusCode::OK, &TwiML::new()),
        }
    }
}
