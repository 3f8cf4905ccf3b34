//! Users of the caller's org: `GET /api/users`, and for owners and admins `POST /api/users`,
//! `PATCH /api/users/{id}` (the role) and `DELETE /api/users/{id}`. Only an owner creates,
//! changes or removes an owner, and the org always keeps one. The CLI `switchboard user add`
//! creates users too.

use super::views;
use crate::crypto;
use crate::db::{audit, users};
use crate::domain::UserRole;
use crate::error::{codes, ApiError};
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
    Ok(HttpResponse::Ok().json(json!({ "users": views::all::<_, views::User>(&rows) })))
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
        users::normalize_email(&email).map_err(|m| ApiError::new(codes::INVALID_EMAIL, m))?;
    if role == UserRole::Owner && auth.principal.role != UserRole::Owner {
        return Err(ApiError::hinted(
            codes::OWNER_REQUIRED,
            "Only an owner can create another owner.",
            "Create the user as admin, or ask an owner.",
        ));
    }
    let (password, generated) = match password {
        Some(p) => {
            crypto::check_password_strength(&p)
                .map_err(|m| ApiError::new(codes::WEAK_PASSWORD, m))?;
            (p, false)
        }
        None => (crypto::generate_password(), true),
    };
    let hash = state
        .passwords
        .hash(password.clone())
        .await
        .map_err(|busy| super::session::hashing_busy(&state, busy))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let id = match users::create(&tx, auth.org_id(), &email, &hash, role) {
                Ok(id) => id,
                Err(e) if crate::db::is_unique_violation(&e) => {
                    return Err(ApiError::hinted(codes::EMAIL_TAKEN,
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
    let mut body = json!({ "user": views::User::from(&user) });
    if generated {
        body["password"] = json!(password);
        body["note"] = json!(
            "This password is shown only once. Give it to the user; they can sign in with it now."
        );
    }
    Ok(HttpResponse::Created().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    role: UserRole,
}

/// The user `id` of the caller's org, once the caller may give it `new_role` (`None`:
/// remove it). The rules, in one place: owners and admins manage users, but only an owner
/// touches an owner (granting, removing or demoting), nobody removes themselves, and the
/// org always keeps an owner.
fn managed_user(
    conn: &rusqlite::Connection,
    auth: &Auth,
    id: i64,
    new_role: Option<UserRole>,
) -> Result<users::User, ApiError> {
    let org_id = auth.org_id();
    let target =
        users::get(conn, org_id, id)?.ok_or_else(|| ApiError::not_found(format!("user {id}")))?;
    if new_role.is_none() && target.id == auth.principal.user_id {
        return Err(ApiError::hinted(
            codes::CANNOT_REMOVE_SELF,
            "you cannot remove your own user",
            "Ask another owner or admin to remove it.",
        ));
    }
    let touches_owner = target.role == UserRole::Owner || new_role == Some(UserRole::Owner);
    if touches_owner && auth.principal.role != UserRole::Owner {
        return Err(ApiError::hinted(
            codes::OWNER_REQUIRED,
            "Only an owner can make, change or remove an owner.",
            "Ask an owner of your organization.",
        ));
    }
    let demoted = new_role.is_none_or(|r| r != UserRole::Owner);
    if target.role == UserRole::Owner && demoted && users::owner_count(conn, org_id)? <= 1 {
        return Err(ApiError::hinted(
            codes::LAST_OWNER,
            format!("{} is the organization's only owner", target.email),
            "Make another user an owner first.",
        ));
    }
    Ok(target)
}

/// `PATCH /api/users/{id}`: changes the role. It applies from the user's next request.
pub async fn change(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<ChangeUser>,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = (path.into_inner(), body.into_inner().role);
    let user = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let mut user = managed_user(&tx, &auth, id, Some(role))?;
            if user.role != role {
                users::set_role(&tx, auth.org_id(), id, role)?;
                let detail = json!({ "email": user.email, "from": user.role, "to": role });
                audit::record(&tx, auth.audit("user.role", format!("user:{id}"), detail))?;
                user.role = role;
            }
            tx.commit()?;
            Ok(user)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "user": views::User::from(&user) })))
}

/// `DELETE /api/users/{id}`: removes the user; their sessions and API tokens stop working
/// at once.
pub async fn remove(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (user, removed) = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let target = managed_user(&tx, &auth, id, None)?;
            let removed = users::delete(&tx, auth.org_id(), id)?;
            let detail = json!({ "email": target.email, "role": target.role, "sessions": removed.sessions, "tokens": removed.tokens });
            audit::record(&tx, auth.audit("user.delete", format!("user:{id}"), detail))?;
            tx.commit()?;
            Ok((target, removed))
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "user": views::User::from(&user),
        "revoked": views::Removed::from(&removed),
    })))
}
