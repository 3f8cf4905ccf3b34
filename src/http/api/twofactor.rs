//! Two-factor sign-in (SPEC §14): `POST /api/me/totp` starts enrolment, `POST
//! /api/me/totp/confirm` turns it on and hands out recovery codes once, `DELETE /api/me/totp`
//! turns it off with a current code, `PUT /api/org/two-factor` requires it of owners and
//! admins. [`check`] is the second step of `POST /api/auth/login`.

use crate::db::totp::{self, Status, StoreError};
use crate::db::{audit, DbError};
use crate::domain::totp::{new_recovery_codes, SecondFactor, TotpSecret};
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Sql(e) => DbError::from(e).into(),
            StoreError::Unreadable => ApiError::Internal(e.to_string()),
        }
    }
}

/// How the second factor was given, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    /// The user has no second factor.
    NotRequired,
    Code,
    RecoveryCode,
}

impl Passed {
    pub fn as_str(self) -> &'static str {
        match self {
            Passed::NotRequired => "none",
            Passed::Code => "code",
            Passed::RecoveryCode => "recovery_code",
        }
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(
        codes::TOTP_INVALID_AT_SIGN_IN,
        format!("{message} Enter the 6-digit code your authenticator app shows now, or one of your recovery codes."),
    )
}

fn unix_now(state: &AppState) -> u64 {
    u64::try_from(state.desk.clock.now().timestamp()).unwrap_or(0)
}

/// Checks the second factor of a user whose password was right. With two-factor on, no
/// code is `totp_required`; a wrong, stale or already used code (or recovery code) is
/// `totp_invalid`. Guesses are limited per user wherever they come from.
pub async fn check(
    state: &AppState,
    user_id: i64,
    typed: Option<&str>,
) -> Result<Passed, ApiError> {
    let key = state.desk.secret_key.clone();
    let status = state
        .db
        .run(move |c| totp::status(c, &key, user_id).map_err(ApiError::from))
        .await?;
    let Status::On {
        secret, last_step, ..
    } = status
    else {
        return Ok(Passed::NotRequired);
    };
    let Some(typed) = typed.filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::new(
            codes::TOTP_REQUIRED,
            "Two-factor sign-in is on for this account: enter the 6-digit code from your authenticator app (or a recovery code).",
        ));
    };
    let limits = &state.rate_limits;
    limits
        .check(&limits.two_factor, &format!("user:{user_id}"))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    match SecondFactor::parse(typed).map_err(|m| invalid(&format!("That is not a code: {m}.")))? {
        SecondFactor::Code(code) => {
            let step = secret
                .matching_step(&code, unix_now(state))
                .filter(|&step| step > last_step)
                .ok_or_else(|| invalid("That code is wrong, expired or already used."))?;
            // One accepted use per step, decided by the database: two sign-ins racing with
            // one code get one session between them.
            let fresh = state
                .db
                .write(move |c| totp::accept_step(c, user_id, step))
                .await?;
            if fresh {
                Ok(Passed::Code)
            } else {
                Err(invalid("That code was already used."))
            }
        }
        SecondFactor::Recovery(code) => {
            let used = state
                .db
                .write(move |c| totp::use_recovery_code(c, user_id, &code))
                .await?;
            if used {
                Ok(Passed::RecoveryCode)
            } else {
                Err(invalid("That recovery code is wrong or was already used."))
            }
        }
    }
}

/// `POST /api/me/totp`: a new secret to scan. Starting again replaces an unconfirmed one.
pub async fn start(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let user_id = auth.principal.user_id;
    let secret = TotpSecret::generate();
    let (key, stored) = (state.desk.secret_key.clone(), secret.clone());
    let begun = state
        .db
        .query(move |c| totp::begin(c, &key, user_id, &stored))
        .await?;
    if !begun {
        return Err(ApiError::hinted(codes::TOTP_ALREADY_ON,
            "Two-factor sign-in is already on for you.",
            "To use another phone, turn it off with a current code (DELETE /api/me/totp), then turn it on again.",
        ));
    }
    let uri = secret.uri(
        &format!("switchboard {}", auth.principal.org_name),
        &auth.principal.email,
    );
    let qr_svg = qr_svg(&uri)?;
    Ok(HttpResponse::Ok().json(json!({
        "secret": secret.base32(),
        "uri": uri,
        "qrSvg": qr_svg,
        "next": "Scan the QR code (or type the secret) in your authenticator app, then send the 6-digit code it shows to POST /api/me/totp/confirm.",
    })))
}

/// The `otpauth://` URI as an SVG QR code, drawn here so the page needs nothing from outside.
fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M)
        .map_err(|e| ApiError::Internal(format!("QR code for the enrolment URI: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

/// `POST /api/me/totp/confirm {"code"}`: the first code from the app turns two-factor on.
pub async fn confirm(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.principal.user_id;
    let key = state.desk.secret_key.clone();
    let status = state
        .db
        .run(move |c| totp::status(c, &key, user_id).map_err(ApiError::from))
        .await?;
    let secret = match status {
        Status::Enrolling(secret) => secret,
        Status::Off => {
            return Err(ApiError::hinted(codes::TOTP_NOT_STARTED,
                "Two-factor enrolment has not started.",
                "Start it with POST /api/me/totp (Settings → Two-factor sign-in → Turn on), then confirm with a code.",
            ))
        }
        Status::On { .. } => {
            return Err(ApiError::hinted(codes::TOTP_ALREADY_ON,
                "Two-factor sign-in is already on for you.",
                "Nothing to confirm.",
            ))
        }
    };
    let limits = &state.rate_limits;
    limits
        .check(&limits.two_factor, &format!("user:{user_id}"))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let code =
        match SecondFactor::parse(&body.code) {
            Ok(SecondFactor::Code(code)) => code,
            _ => return Err(ApiError::hinted(
                codes::TOTP_INVALID,
                "code: enter the 6 digits your authenticator app shows",
                "Scan the QR code first; the app then shows a new 6-digit code every 30 seconds.",
            )),
        };
    let Some(step) = secret.matching_step(&code, unix_now(&state)) else {
        return Err(ApiError::hinted(codes::TOTP_INVALID,
            "code: that code does not match the secret you scanned",
            "Enter the code the app shows now; if it still fails, check that the phone's clock is set automatically.",
        ));
    };
    let codes = new_recovery_codes();
    let stored = codes.clone();
    state
        .db
        .run(move |c| -> Result<(), ApiError> {
            let tx = c.transaction()?;
            if !totp::confirm(&tx, user_id, step, &stored)? {
                return Err(ApiError::hinted(
                    codes::TOTP_NOT_STARTED,
                    "Two-factor enrolment was turned off or confirmed meanwhile.",
                    "Reload Settings and start again.",
                ));
            }
            audit::record(
                &tx,
                auth.audit("user.totp_on", format!("user:{user_id}"), json!({})),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "enabled": true,
        "recoveryCodes": codes,
        "note": "Keep these recovery codes somewhere safe: each signs you in once if you lose your phone. They are not shown again.",
    })))
}

/// `DELETE /api/me/totp {"code"}`: turns two-factor off, proven with a current code or a
/// recovery code (a stolen session alone cannot turn it off).
pub async fn disable(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.principal.user_id;
    if auth.principal.org_requires_two_factor && auth.principal.role.can_write() {
        return Err(ApiError::hinted(codes::TOTP_REQUIRED_BY_ORG,
            "Your organization requires two-factor sign-in for owners and admins, so it cannot be turned off.",
            "An owner can stop requiring it in Settings; to move to a new phone, ask for `switchboard user reset-2fa` and enrol again.",
        ));
    }
    match check(&state, user_id, Some(&body.code)).await? {
        Passed::NotRequired => {
            // Abandoning an enrolment that was never confirmed needs no code.
            state.db.query(move |c| totp::remove(c, user_id)).await?;
            return Ok(HttpResponse::NoContent().finish());
        }
        Passed::Code | Passed::RecoveryCode => {}
    }
    state
        .db
        .run(move |c| -> Result<(), ApiError> {
            let tx = c.transaction()?;
            totp::remove(&tx, user_id)?;
            audit::record(
                &tx,
                auth.audit("user.totp_off", format!("user:{user_id}"), json!({})),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementBody {
    required: bool,
}

/// `PUT /api/org/two-factor {"required"}`: owners and admins must sign in with a second
/// factor. Whoever turns it on must have it on already, so nobody locks themselves out.
pub async fn set_requirement(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<RequirementBody>,
) -> Result<HttpResponse, ApiError> {
    let required = body.required;
    if required && !auth.principal.two_factor {
        return Err(ApiError::hinted(
            codes::TOTP_OFF_FOR_YOU,
            "Turn on two-factor sign-in for yourself before requiring it of everyone.",
            "Settings → Two-factor sign-in → Turn on.",
        ));
    }
    let org_id = auth.org_id();
    state
        .db
        .run(move |c| -> Result<(), ApiError> {
            let tx = c.transaction()?;
            totp::set_org_requires(&tx, org_id, required)?;
            audit::record(
                &tx,
                auth.audit(
                    "org.two_factor_required",
                    format!("org:{org_id}"),
                    json!({ "required": required }),
                ),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "required": required })))
}
