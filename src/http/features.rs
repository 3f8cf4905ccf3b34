//! Feature flags as route guards (SPEC §5.1): a scope wrapped in [`guard`] answers the exact
//! `feature_disabled` 403 on every route while the flag is off for the caller's org, so no
//! route under it can forget the check.

use super::auth::Auth;
use super::AppState;
use crate::domain::FlagKey;
use crate::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, ResponseError};

/// Is `key` on for `org_id`? Otherwise the §5.1 error.
pub async fn require_flag(state: &AppState, org_id: i64, key: FlagKey) -> Result<(), ApiError> {
    let flags = state.desk.flags.clone();
    let on = state
        .db
        .query(move |c| flags.is_enabled(c, org_id, key))
        .await?;
    if on {
        Ok(())
    } else {
        Err(ApiError::FeatureDisabled(key))
    }
}

/// Authenticates the caller (the handler reuses it), then checks `key` for their org.
pub async fn guard(
    key: FlagKey,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let checked = async {
        let auth = Auth::from_request(req.request(), &mut Payload::None).await?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::Internal("AppState is not registered".into()))?;
        require_flag(state, auth.org_id(), key).await?;
        Ok::<_, ApiError>(auth)
    }
    .await;
    match checked {
        Ok(auth) => {
            req.extensions_mut().insert(auth);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(e) => Ok(req.into_response(e.error_response())),
    }
}
