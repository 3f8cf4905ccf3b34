//! What a number operation can fail with, independent of who asked: the API maps it to an
//! [`ApiError`] (with the catalogue's code and status), the command line to an exit code.

use crate::db::DbError;
use crate::error::{ApiError, Code};
use crate::providers::ProviderError;
use crate::saga::SagaFailed;

#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    /// Refused for a reason the caller can act on: a catalogued code, what happened and
    /// what to do.
    #[error("{message}")]
    Refused {
        code: Code,
        message: String,
        hint: Option<String>,
    },
    #[error("{0} was not found")]
    NotFound(String),
    /// Twilio or Vapi refused or failed; nothing was changed.
    #[error("{0}")]
    Provider(ProviderError),
    /// A multi-step operation failed at a step and was undone (SPEC §5.3).
    #[error("{}", .0.error)]
    Saga(Box<SagaFailed>),
    #[error(transparent)]
    Db(#[from] DbError),
    /// Something that should not happen (a row that vanished).
    #[error("{0}")]
    Internal(String),
}

impl TelephonyError {
    pub fn refused(code: Code, message: impl Into<String>, hint: impl Into<String>) -> Self {
        TelephonyError::Refused {
            code,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        TelephonyError::Refused {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// The command line's exit status (sysexits.h): 65 the request is wrong, 66 not found,
    /// 69 a provider failed, 74 the database, 70 a bug.
    pub fn exit_code(&self) -> i32 {
        match self {
            TelephonyError::Refused { .. } => 65,
            TelephonyError::NotFound(_) => 66,
            TelephonyError::Provider(_) | TelephonyError::Saga(_) => 69,
            TelephonyError::Db(_) => 74,
            TelephonyError::Internal(_) => 70,
        }
    }
}

impl From<rusqlite::Error> for TelephonyError {
    fn from(e: rusqlite::Error) -> Self {
        TelephonyError::Db(e.into())
    }
}

impl From<ProviderError> for TelephonyError {
    fn from(e: ProviderError) -> Self {
        TelephonyError::Provider(e)
    }
}

impl From<TelephonyError> for ApiError {
    fn from(e: TelephonyError) -> Self {
        match e {
            TelephonyError::Refused {
                code,
                message,
                hint,
            } => ApiError::Coded {
                code,
                message,
                hint,
            },
            TelephonyError::NotFound(what) => ApiError::NotFound(what),
            TelephonyError::Provider(p) => ApiError::Provider(p),
            TelephonyError::Saga(f) => ApiError::Saga(f),
            TelephonyError::Db(db) => db.into(),
            TelephonyError::Internal(m) => ApiError::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;
    use actix_web::ResponseError;

    #[test]
    fn the_api_answers_with_the_catalogue_s_status_and_the_cli_with_an_exit_code() {
        let released = TelephonyError::refused(
            codes::NUMBER_RELEASED,
            "+14155550123 was released.",
            "Import it again.",
        );
        assert_eq!(released.exit_code(), 65);
        let api = ApiError::from(released);
        assert_eq!(api.status_code().as_u16(), 409);
        assert_eq!(api.body()["error"]["hint"], "Import it again.");
        let bad = ApiError::from(TelephonyError::invalid(
            codes::INVALID_FIELD,
            "number: too short",
        ));
        assert_eq!(bad.status_code().as_u16(), 400);
        assert_eq!(bad.field(), Some("number"));
        assert_eq!(TelephonyError::NotFound("number +1".into()).exit_code(), 66);
        let db = ApiError::from(TelephonyError::Db(DbError::Timeout));
        assert_eq!(db.status_code().as_u16(), 503);
    }
}
