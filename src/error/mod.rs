//! `ApiError`: every API failure as an HTTP status plus `{"error":{"code","message","hint"}}`.
//!
//! Internal causes are logged once, here, with context; the client gets a stable snake_case
//! code, a message saying what happened and a hint saying what to do (principle 7). Every
//! code, with its status and default hint, is in [`codes`].

pub mod codes;

pub use codes::Code;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Any error of the catalogue ([`codes`]): the code gives its status (400, 401, 403,
    /// 409, 422, …) and default hint, the message says what happened, `hint` (when the
    /// raiser knows better than the catalogue) what to do.
    #[error("{message}")]
    Coded {
        code: Code,
        message: String,
        hint: Option<String>,
    },
    /// 404: not found, or belongs to another org (never tell which).
    #[error("{0} was not found")]
    NotFound(String),
    /// 404: no API route matches the method and path.
    #[error("there is no API route {0}")]
    UnknownRoute(String),
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
    /// 409 with `Retry-After`: the same `Idempotency-Key` is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    InProgress,
    /// 503 with `Retry-After`: the appliance is shedding this kind of work for a moment
    /// (too many sign-ins at once); the message says what to do.
    #[error("{message}")]
    Busy {
        code: Code,
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
    /// An error of `code`: its status and hint are the catalogue's.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError::Coded {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// [`ApiError::new`] with a hint of its own.
    pub fn hinted(code: Code, message: impl Into<String>, hint: impl Into<String>) -> Self {
        ApiError::Coded {
            code,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn unauthenticated() -> Self {
        ApiError::new(
            codes::UNAUTHENTICATED,
            "Sign in first, or send an API token as 'Authorization: Bearer <token>'.",
        )
    }

    /// This error's entry in the catalogue.
    pub fn catalogued(&self) -> Code {
        match self {
            ApiError::Coded { code, .. } | ApiError::Busy { code, .. } => *code,
            ApiError::NotFound(_) => codes::NOT_FOUND,
            ApiError::UnknownRoute(_) => codes::UNKNOWN_ROUTE,
            ApiError::PayloadTooLarge { .. } => codes::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => codes::RATE_LIMITED,
            ApiError::Provider(_) | ApiError::Saga(_) => codes::PROVIDER_ERROR,
            ApiError::FeatureDisabled(_) => codes::FEATURE_DISABLED,
            ApiError::InProgress => codes::IDEMPOTENCY_KEY_IN_PROGRESS,
            ApiError::Unavailable(_) => codes::DATABASE_UNAVAILABLE,
            ApiError::Internal(_) => codes::INTERNAL_ERROR,
        }
    }

    /// The stable code the client sees.
    pub fn code(&self) -> &'static str {
        self.catalogued().code
    }

    fn hint(&self) -> Option<String> {
        let specific = match self {
            ApiError::Coded { hint, .. } => hint.clone(),
            ApiError::Saga(f) => Some(match &f.compensation_error {
                Some((step, _)) => format!(
                    "Undoing the earlier steps failed at {step}; switchboard retries that at its next start. Check the Health page before trying again."
                ),
                None => "Nothing was left behind: no number was bought or kept. Fix what the message says and try again.".into(),
            }),
            ApiError::RateLimited { retry_after } | ApiError::Busy { retry_after, .. } => Some(format!("Wait {retry_after} s and try again.")),
            ApiError::Provider(e) => Some(
                match e.kind {
                    crate::providers::ProviderErrorKind::Auth => "Check the provider credentials in the settings file.",
                    crate::providers::ProviderErrorKind::NotFound => "The provider no longer has it.",
                    crate::providers::ProviderErrorKind::Unavailable => "The provider did not answer properly; try again in a minute.",
                    crate::providers::ProviderErrorKind::Rejected => "Change the request as the message says and try again.",
                }
                .into(),
            ),
            _ => None,
        };
        specific.or_else(|| self.catalogued().hint.map(str::to_string))
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
        if self.catalogued() == codes::MOBILE_REQUIRED {
            return Some("mobile");
        }
        let ApiError::Coded { code, message, .. } = self else {
            return None;
        };
        let (field, _) = match code.code {
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
        self.catalogued().status
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
        let e = ApiError::new(
            codes::INVALID_FIELD,
            "notificationNumber: '555' is too short for a US number",
        );
        assert_eq!(e.body()["error"]["field"], "notificationNumber");
        let e = ApiError::new(codes::INVALID_FIELD, "menu[0].action.targets: add a number");
        assert_eq!(e.field(), Some("menu[0].action.targets"));
        let e = ApiError::new(codes::INVALID_QUERY, "caller: 'abc' has letters");
        assert_eq!(e.field(), Some("caller"));
        let e = ApiError::new(codes::INVALID_EMAIL, "'x' is not an email address");
        assert_eq!(e.field(), Some("email"));
        for no_field in [
            ApiError::new(
                codes::INVALID_FIELD,
                "the JSON body has a wrong or missing field: x",
            ),
            ApiError::new(codes::INVALID_FIELD, "rolloutPercentage must be 0 to 100"),
            ApiError::new(codes::INVALID_JSON, "name: not a field error code"),
            ApiError::new(codes::INVALID_QUERY, "limit must be 1 to 500"),
        ] {
            assert_eq!(no_field.field(), None, "{no_field}");
            assert!(no_field.body()["error"].get("field").is_none());
        }
    }
}
