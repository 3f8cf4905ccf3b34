//! Sign-in and the current user: `POST /api/auth/login`, `POST /api/auth/logout`,
//! `GET /api/me`, and the public `GET /api/info` the login page reads.

use super::views;
use crate::db::users::{self, Credential};
use crate::db::{orgs, sessions};
use crate::error::{codes, ApiError};
use crate::http::auth::{client_ip, Auth, SESSION_COOKIE};
use crate::http::AppState;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// The second factor: a 6-digit code or a recovery code (SPEC §14).
    #[serde(default)]
    totp: Option<String>,
}

/// What the login page needs before anyone signs in: whether this is the sandbox.
pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "product": "switchboard",
        "sandbox": state.providers.sandbox,
        "twilioSignatureCheckDisabled": state.config.insecure_skip_twilio_signature,
    }))
}

fn session_cookie(state: &AppState, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies())
        .max_age(max_age)
        .finish()
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest {
        email,
        password,
        totp,
    } = body.into_inner();
    let email =
        users::normalize_email(&email).map_err(|m| ApiError::new(codes::INVALID_EMAIL, m))?;
    if password.is_empty() || password.len() > 1024 {
        return Err(ApiError::new(
            codes::INVALID_PASSWORD,
            "the password must be 1 to 1024 bytes long",
        ));
    }
    let ip = client_ip(&req, state.config.trust_proxy);
    let limits = &state.rate_limits;
    // Narrowest first: a request they refuse neither tracks a key for its email nor
    // spends the budget everyone shares.
    limits
        .check(&limits.login_ip, &ip)
        .and_then(|()| limits.check(&limits.login, &format!("{ip}|{email}")))
        .and_then(|()| limits.check(&limits.login_global, "all"))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let lookup = email.clone();
    let stored = state
        .db
        .query(move |c| users::credentials_for_login(c, &lookup))
        .await?;
    let hash = stored.as_ref().map(|(_, h)| h.clone());
    // argon2 takes 19 MiB and tens of milliseconds of CPU: it runs on the bounded hashing
    // threads, never the async workers or the blocking pool.
    let verified = state
        .passwords
        .verify(password, hash)
        .await
        .map_err(|busy| hashing_busy(&state, busy))?;
    let user_id = match stored {
        Some((id, _)) if verified => id,
        _ => {
            log::info!("failed sign-in from {ip}");
            return Err(ApiError::new(
                codes::INVALID_CREDENTIALS,
                "The email or password is wrong.",
            ));
        }
    };
    // The password was right: now the second factor, if the user has one.
    let passed = super::twofactor::check(&state, user_id, totp.as_deref()).await?;
    if passed == super::twofactor::Passed::RecoveryCode {
        let audit_ip = ip.clone();
        state
            .db
            .query(move |c| {
                crate::db::audit::record(
                    c,
                    crate::db::audit::Record {
                        org_id: users::org_of(c, user_id)?,
                        user_id: Some(user_id),
                        actor: &email,
                        action: "user.recovery_code_used",
                        target: Some(format!("user:{user_id}")),
                        detail: None,
                        ip: Some(&audit_ip),
                    },
                )
            })
            .await?;
    }
    let ttl = state.config.session_ttl_hours;
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let session_ip = ip.clone();
    let session = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let s = sessions::create(c, user_id, ttl, Some(&session_ip), user_agent.as_deref())?;
            users::touch_login(c, user_id)?;
            Ok(s)
        })
        .await?;
    let cookie = session_cookie(&state, session.token, CookieDuration::hours(i64::from(ttl)));
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(json!({ "csrfToken": session.csrf_token, "secondFactor": passed.as_str() })))
}

/// A sign-in or new password the hashing threads could not take: 503 with `Retry-After`,
/// counted (SPEC §11: a flood of sign-ins must not take the phones down).
pub fn hashing_busy(state: &AppState, busy: crate::passwords::Busy) -> ApiError {
    state.desk.metrics.incr(
        crate::metrics::PASSWORD_HASH_REJECTED,
        &[("reason", busy.reason())],
    );
    log::warn!("password check refused: {busy}");
    ApiError::Busy {
        code: codes::SIGN_IN_BUSY,
        message: "Too many sign-ins are being checked right now.".into(),
        retry_after: crate::passwords::RETRY_AFTER_SECS,
    }
}

pub async fn logout(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    if let Credential::Session { session_id, .. } = auth.principal.credential {
        state
            .db
            .query(move |c| sessions::delete(c, session_id))
            .await?;
    }
    let cleared = session_cookie(&state, String::new(), CookieDuration::ZERO);
    Ok(HttpResponse::NoContent().cookie(cleared).finish())
}

pub async fn me(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = (auth.org_id(), auth.principal.user_id);
    let (org, reach) = state
        .db
        .query(move |c| Ok((orgs::get(c, org_id)?, users::reach(c, user_id)?)))
        .await?;
    let org = org.ok_or_else(|| ApiError::not_found("your organization"))?;
    let p = &auth.principal;
    Ok(HttpResponse::Ok().json(json!({
        "user": { "id": p.user_id, "email": p.email, "role": p.role, "isSystemAdmin": p.is_system_admin, "twoFactor": p.two_factor, "mobile": reach.mobile },
        "org": views::Org::from(&org),
        "requireTwoFactor": p.org_requires_two_factor,
        "twoFactorSetupRequired": p.two_factor_setup_required(),
        "csrfToken": auth.csrf_token(),
        "authenticatedBy": match p.credential { Credential::Session { .. } => "session", Credential::Token { .. } => "token" },
        "sandbox": state.providers.sandbox,
    })))
}
