//! `ApiError`: every API failure as an HTTP status plus `{"error":{"code","message","hint"}}`.
//!
//! Internal causes are logged once, here, with context; the client gets a stable snake_case
//! code, a message saying what happened and a hint saying what to do (principle 7).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is wrong; the message names the field and the fix.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        hint: Option<String>,
    },
    /// 401: no or invalid credentials.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden {
        code: &'static str,
        message: String,
        hint: Option<String>,
    },
    /// 404: not found, or belongs to another org (never tell which).
    #[error("{0} was not found")]
    NotFound(String),
    /// 404: no API route matches the method and path.
    #[error("there is no API route {0}")]
    UnknownRoute(String),
    /// 409: conflicts with the current state.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        hint: Option<String>,
    },
    /// 413: the body is larger than the route accepts.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 429: a rate limit; `retry_after` seconds until the next request may pass.
    #[error("too many requests")]
    RateLimited { retry_after: u64 },
    /// 502: Twilio or Vapi failed; the message says what the provider said and what to do.
    #[error("{0}")]
    Provider(crate::providers::ProviderError),
    /// 502: a multi-step provider operation failed at `step` and was undone (SPEC §5.3).
    #[error("{}", .0.error)]
    Saga(Box<crate::saga::SagaFailed>),
    /// 403: the feature is off for this org (SPEC §5.1, exact body).
    #[error("{} is not enabled for this organization.", .0.display_name())]
    FeatureDisabled(crate::domain::FlagKey),
    /// 422: an `Idempotency-Key` was reused for a different request (SPEC §6.2).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        hint: Option<String>,
    },
    /// 409 with `Retry-After`: the same `Idempotency-Key` is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    InProgress,
    /// 503 with `Retry-After`: the appliance is shedding this kind of work for a moment
    /// (too many sign-ins at once); the message says what to do.
    #[error("{message}")]
    Busy {
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    /// 503: the database did not answer in time.
    #[error("the database is busy")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn bad_request_hint(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn forbidden(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ApiError::Forbidden {
            code,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn conflict(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn unauthenticated() -> Self {
        ApiError::Unauthorized {
            code: "unauthenticated",
            message: "Sign in first, or send an API token as 'Authorization: Bearer <token>'."
                .into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::UnknownRoute(_) => "unknown_route",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Busy { code, .. } => code,
            ApiError::Provider(_) | ApiError::Saga(_) => "provider_error",
            ApiError::FeatureDisabled(_) => "feature_disabled",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::InProgress => "idempotency_key_in_progress",
            ApiError::Unavailable(_) => "database_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ApiError::BadRequest { hint, .. }
            | ApiError::Forbidden { hint, .. }
            | ApiError::Conflict { hint, .. }
            | ApiError::Unprocessable { hint, .. } => hint.clone(),
            ApiError::FeatureDisabled(_) => Some("An admin can turn it on in Settings → Features.".into()),
            ApiError::InProgress => Some("Wait for the first request to finish, then retry with the same key to get its result.".into()),
            ApiError::Saga(f) => Some(match &f.compensation_error {
                Some((step, _)) => format!(
                    "Undoing the earlier steps failed at {step}; switchboard retries that at its next start. Check the Health page before trying again."
                ),
                None => "Nothing was left behind: no number was bought or kept. Fix what the message says and try again.".into(),
            }),
            ApiError::Unauthorized { .. } => Some("POST /api/auth/login with your email and password.".into()),
            ApiError::UnknownRoute(_) => Some("Check the method and path against the API list in the README.".into()),
            ApiError::NotFound(_) => Some("Check the id; it may belong to another organization or have been removed.".into()),
            ApiError::PayloadTooLarge { .. } => Some("Send a smaller body.".into()),
            ApiError::RateLimited { retry_after } | ApiError::Busy { retry_after, .. } => Some(format!("Wait {retry_after} s and try again.")),
            ApiError::Unavailable(_) => Some("Try again in a few seconds; if it persists, check the server log and free disk space.".into()),
            ApiError::Provider(e) => Some(
                match e.kind {
                    crate::providers::ProviderErrorKind::Auth => "Check the provider credentials in the settings file.",
                    crate::providers::ProviderErrorKind::NotFound => "The provider no longer has it.",
                    crate::providers::ProviderErrorKind::Unavailable => "The provider did not answer properly; try again in a minute.",
                    crate::providers::ProviderErrorKind::Rejected => "Change the request as the message says and try again.",
                }
                .into(),
            ),
            ApiError::Internal(_) => Some("Try again; if it persists, the server log has the details (search for the request id).".into()),
        }
    }

    /// The JSON body this error answers with, `{"error": {...}}`; also embedded where an
    /// operation reports a failed part without failing as a whole.
    pub fn body(&self) -> serde_json::Value {
        if let ApiError::FeatureDisabled(flag) = self {
            return json!({ "error": {
                "code": "feature_disabled",
                "flag": flag.as_str(),
                "message": self.public_message(),
                "hint": self.hint(),
            }});
        }
        let mut error = json!({ "code": self.code(), "message": self.public_message() });
        if let ApiError::Provider(e) = self {
            error["provider"] = json!(e.provider);
            error["providerCode"] = json!(e.code);
        }
        if let ApiError::Saga(f) = self {
            error["step"] = json!(f.step);
            error["provider_code"] = json!(f.error.provider_code());
            if let crate::saga::StepError::Provider(p) = &f.error {
                error["provider"] = json!(p.provider);
            }
        }
        if let Some(hint) = self.hint() {
            error["hint"] = json!(hint);
        }
        if let Some(field) = self.field() {
            error["field"] = json!(field);
        }
        json!({ "error": error })
    }

    /// The field an `invalid_field` error is about, as the machine path its message starts
    /// with (`notificationNumber: …`, `menu[0].action.targets: …`), so a page can mark the
    /// input it came from.
    pub fn field(&self) -> Option<&str> {
        if let ApiError::Conflict {
            code: "mobile_required",
            ..
        } = self
        {
            return Some("mobile");
        }
        let ApiError::BadRequest { code, message, .. } = self else {
            return None;
        };
        let (field, _) = match *code {
            "invalid_field" | "invalid_query" => message.split_once(": ")?,
            "invalid_email" => return Some("email"),
            _ => return None,
        };
        let path_like = !field.is_empty()
            && field.starts_with(|c: char| c.is_ascii_alphabetic())
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'));
        path_like.then_some(field)
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "Something went wrong on the server.".into(),
            ApiError::Unavailable(_) => "The database did not answer in time.".into(),
            ApiError::RateLimited { .. } => "Too many requests.".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::UnknownRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::InProgress => StatusCode::CONFLICT,
            ApiError::Saga(_) => StatusCode::BAD_GATEWAY,
            ApiError::FeatureDisabled(_) => StatusCode::FORBIDDEN,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Provider(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => log::error!("internal error: {cause}"),
            ApiError::Unavailable(cause) => log::warn!("database unavailable: {cause}"),
            _ => {}
        }
        let mut builder = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited { retry_after } | ApiError::Busy { retry_after, .. } = self {
            builder.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let ApiError::InProgress = self {
            builder.insert_header((header::RETRY_AFTER, "1"));
        }
        builder.json(self.body())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::from(crate::db::DbError::from(err))
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> Self {
        match err {
            crate::db::DbError::Timeout | crate::db::DbError::Pool(_) => {
                ApiError::Unavailable(err.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_field_error_names_its_field_for_the_page() {
        let e = ApiError::bad_request(
            "invalid_field",
            "notificationNumber: '555' is too short for a US number",
        );
        assert_eq!(e.body()["error"]["field"], "notificationNumber");
        let e = ApiError::bad_request("invalid_field", "menu[0].action.targets: add a number");
        assert_eq!(e.field(), Some("menu[0].action.targets"));
        let e = ApiError::bad_request("invalid_query", "caller: 'abc' has letters");
        assert_eq!(e.field(), Some("caller"));
        let e = ApiError::bad_request("invalid_email", "'x' is not an email address");
        assert_eq!(e.field(), Some("email"));
        for no_field in [
            ApiError::bad_request(
                "invalid_field",
                "the JSON body has a wrong or missing field: x",
            ),
            ApiError::bad_request("invalid_field", "rolloutPercentage must be 0 to 100"),
            ApiError::bad_request("invalid_json", "name: not a field error code"),
            ApiError::bad_request("invalid_query", "limit must be 1 to 500"),
        ] {
            assert_eq!(no_field.field(), None, "{no_field}");
            assert!(no_field.body()["error"].get("field").is_none());
        }
    }
}
