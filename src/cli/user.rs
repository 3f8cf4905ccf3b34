//! `switchboard user add|reset-password`.

use super::{fail, CliError};
use crate::config::Config;
use crate::crypto;
use crate::db::{audit, orgs, users};
use crate::domain::UserRole;
use std::io::BufRead;

/// The password from stdin (checked for strength) or a generated one (printed).
fn obtain_password(from_stdin: bool) -> Result<(String, bool), CliError> {
    if !from_stdin {
        return Ok((crypto::generate_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(format!("cannot read the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    crypto::check_password_strength(&password)
        .map_err(|m| fail(format!("--password-stdin: {m}")))?;
    Ok((password, false))
}

pub fn add(
    config: &Config,
    email: &str,
    role: &str,
    org: Option<&str>,
    password_stdin: bool,
    system_admin: bool,
) -> Result<(), CliError> {
    let email = users::normalize_email(email).map_err(|m| fail(format!("--email: {m}")))?;
    let role = UserRole::parse(role).map_err(|m| fail(format!("--role: {m}")))?;
    let (password, generated) = obtain_password(password_stdin)?;
    let hash = crypto::hash_password(&password).map_err(fail)?;
    let db = super::open_db(config)?;
    let mut conn = db.conn().map_err(fail)?;
    let tx = conn.transaction().map_err(fail)?;
    let org = match org {
        Some(name) if name.trim().is_empty() => {
            return Err(fail("--org: the organization name must not be empty"))
        }
        Some(name) => match orgs::find_by_name(&tx, name).map_err(fail)? {
            Some(existing) => existing,
            None => {
                let id = orgs::create(&tx, name, "UTC", false).map_err(fail)?;
                println!("created organization \"{}\"", name.trim());
                orgs::get(&tx, id)
                    .map_err(fail)?
                    .ok_or_else(|| fail("the new organization vanished"))?
            }
        },
        None => {
            let all = orgs::list(&tx).map_err(fail)?;
            match all.len() {
                0 => return Err(fail(
                    "there is no organization yet: pass --org \"Your Business Name\" to create one",
                )),
                1 => all.into_iter().next().expect("one org"),
                _ => {
                    let names: Vec<String> =
                        all.iter().map(|o| format!("\"{}\"", o.name)).collect();
                    return Err(fail(format!(
                        "there are several organizations; pass --org with one of: {}",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let id = match users::create(&tx, org.id, &email, &hash, role) {
        Ok(id) => id,
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(fail(format!(
                "a user with the email {email} already exists; use `switchboard user reset-password --email {email}`"
            )))
        }
        Err(e) => return Err(fail(e)),
    };
    if system_admin {
        users::set_system_admin(&tx, id, true).map_err(fail)?;
    }
    audit::record(
        &tx,
        audit::Record {
            org_id: Some(org.id),
            user_id: None,
            actor: "cli",
            action: "user.create",
            target: Some(format!("user:{id}")),
            detail: Some(
                serde_json::json!({ "email": email, "role": role, "systemAdmin": system_admin }),
            ),
            ip: None,
        },
    )
    .map_err(fail)?;
    tx.commit().map_err(fail)?;
    let admin = if system_admin {
        ", a system administrator"
    } else {
        ""
    };
    println!("created {role} {email} in \"{}\"{admin}", org.name);
    if generated {
        println!("password: {password}");
        println!("(shown only once)");
    }
    Ok(())
}

/// The audit line of a change the CLI made to `user`.
fn changed(
    user: &users::User,
    action: &'static str,
    detail: Option<serde_json::Value>,
) -> audit::Record<'static> {
    audit::Record {
        org_id: Some(user.org_id),
        user_id: None,
        actor: "cli",
        action,
        target: Some(format!("user:{}", user.id)),
        detail,
        ip: None,
    }
}

/// The user with `email`, or an error saying how to create one.
fn existing(conn: &rusqlite::Connection, email: &str) -> Result<users::User, CliError> {
    users::find_by_email(conn, email)
        .map_err(fail)?
        .ok_or_else(|| {
            fail(format!(
                "there is no user with the email {email}; create one with `switchboard user add`"
            ))
        })
}

pub fn reset_password(config: &Config, email: &str, password_stdin: bool) -> Result<(), CliError> {
    let email = users::normalize_email(email).map_err(|m| fail(format!("--email: {m}")))?;
    let db = super::open_db(config)?;
    let mut conn = db.conn().map_err(fail)?;
    let user = existing(&conn, &email)?;
    let (password, generated) = obtain_password(password_stdin)?;
    let hash = crypto::hash_password(&password).map_err(fail)?;
    let tx = conn.transaction().map_err(fail)?;
    users::set_password(&tx, user.id, &hash).map_err(fail)?;
    audit::record(&tx, changed(&user, "user.reset_password", None)).map_err(fail)?;
    tx.commit().map_err(fail)?;
    println!("password of {email} reset; existing sessions were signed out");
    if generated {
        println!("password: {password}");
        println!("(shown only once)");
    }
    Ok(())
}

pub fn system_admin(config: &Config, email: &str, on: bool) -> Result<(), CliError> {
    let email = users::normalize_email(email).map_err(|m| fail(format!("--email: {m}")))?;
    let db = super::open_db(config)?;
    let mut conn = db.conn().map_err(fail)?;
    let user = existing(&conn, &email)?;
    let tx = conn.transaction().map_err(fail)?;
    users::set_system_admin(&tx, user.id, on).map_err(fail)?;
    let detail = serde_json::json!({ "before": user.is_system_admin, "after": on });
    audit::record(&tx, changed(&user, "user.system_admin", Some(detail))).map_err(fail)?;
    tx.commit().map_err(fail)?;
    if on {
        println!("{email} is a system administrator of this appliance");
    } else {
        println!("{email} is no longer a system administrator");
    }
    Ok(())
}

/// `user reset-2fa`: turns two-factor sign-in off for a user who lost their phone and their
/// recovery codes, and signs them out everywhere. If their org requires two-factor, their
/// next sign-in leads them through enrolling again.
pub fn reset_two_factor(config: &Config, email: &str) -> Result<(), CliError> {
    let email = users::normalize_email(email).map_err(|m| fail(format!("--email: {m}")))?;
    let db = super::open_db(config)?;
    let mut conn = db.conn().map_err(fail)?;
    let user = existing(&conn, &email)?;
    let tx = conn.transaction().map_err(fail)?;
    let removed = crate::db::totp::remove(&tx, user.id).map_err(fail)?;
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user.id])
        .map_err(fail)?;
    let detail = serde_json::json!({ "wasOn": removed });
    audit::record(&tx, changed(&user, "user.reset_2fa", Some(detail))).map_err(fail)?;
    tx.commit().map_err(fail)?;
    if removed {
        println!("two-factor sign-in of {email} is off; existing sessions were signed out");
    } else {
        println!("{email} had no two-factor sign-in; existing sessions were signed out");
    }
    Ok(())
}
