//! Users of the caller's org: `GET /api/users`, `POST /api/users` (owners and admins;
//! only an owner may create another owner). The CLI `switchboard user add` does the same.

use crate::crypto;
use crate::db::{audit, users};
use crate::domain::UserRole;
use crate::error::ApiError;
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    role: UserRole,
    /// Optional; a strong password is generated (and returned once) when absent.
    password: Option<String>,
}

pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org_id = auth.org_id();
    let rows = state
        .db
        .query(move |c| users::list_for_org(c, org_id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "users": rows })))
}

pub async fn create(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let CreateUser {
        email,
        role,
        password,
    } = body.into_inner();
    let email =
        users::normalize_email(&email).map_err(|m| ApiError::bad_request("invalid_email", m))?;
    if role == UserRole::Owner && auth.principal.role != UserRole::Owner {
        return Err(ApiError::forbidden(
            "owner_required",
            "Only an owner can create another owner.",
            "Create the user as admin, or ask an owner.",
        ));
    }
    let (password, generated) = match password {
        Some(p) => {
            crypto::check_password_strength(&p)
                .map_err(|m| ApiError::bad_request("weak_password", m))?;
            (p, false)
        }
        None => (crypto::generate_password(), true),
    };
    let to_hash = password.clone();
    let hash = web::block(move || crypto::hash_password(&to_hash))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let id = match users::create(&tx, auth.org_id(), &email, &hash, role) {
                Ok(id) => id,
                Err(e) if crate::db::is_unique_violation(&e) => {
                    return Err(ApiError::conflict(
                        "email_taken",
                        format!("a user with the email {email} already exists"),
                        "Use another email, or reset that user's password with `switchboard user reset-password`.",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            audit::record(&tx, auth.audit("user.create", format!("user:{id}"), json!({ "email": email, "role": role })))?;
            let user = users::get(&tx, auth.org_id(), id)?.ok_or_else(|| ApiError::Internal("created user vanished".into()))?;
            tx.commit()?;
            Ok(user)
        })
        .await?;
    let mut body = json!({ "user": user });
    if generated {
        body["password"] = json!(password);
        body["note"] = json!(
            "This password is shown only once. Give it to the user; they can sign in with it now."
        );
    }
    Ok(HttpResponse::Created().json(body))
}
