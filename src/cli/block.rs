//! `switchboard block add|remove|list` (SPEC §3.9): the org's blocklist from the command
//! line, audited like the dashboard's changes.

use super::{fail, open_db, CliError};
use crate::config::Config;
use crate::db::{audit, blocklist};
use crate::domain::blocklist::Pattern;

/// The org's database and what `--number` or `--prefix` names, read in the org's country.
fn target(
    config: &Config,
    org: Option<&str>,
    number: Option<&str>,
    prefix: Option<&str>,
) -> Result<(crate::db::Db, i64, Pattern), CliError> {
    let db = open_db(config)?;
    let org = super::number::org_id(&db, org)?;
    let country = crate::db::orgs::country(&*db.conn().map_err(fail)?, org).map_err(fail)?;
    let pattern = Pattern::parse(number, prefix, &country)
        .map_err(|e| fail(format!("--{}: {}. {}", e.field, e.message, e.hint)))?;
    Ok((db, org, pattern))
}

fn record(org: i64, action: &'static str, id: i64, what: &Pattern) -> audit::Record<'static> {
    audit::Record {
        org_id: Some(org),
        user_id: None,
        actor: "cli",
        action,
        target: Some(format!("blocklist:{id}")),
        detail: Some(serde_json::json!({ "blocks": what.describe() })),
        ip: None,
    }
}

pub fn add(
    config: &Config,
    number: Option<&str>,
    prefix: Option<&str>,
    note: &str,
    org: Option<&str>,
) -> Result<(), CliError> {
    let (db, org, pattern) = target(config, org, number, prefix)?;
    let mut conn = db.conn().map_err(fail)?;
    let tx = conn.transaction().map_err(fail)?;
    match blocklist::add(&tx, org, &pattern, note.trim(), "cli").map_err(fail)? {
        Some(entry) => {
            audit::record(&tx, record(org, "blocklist.add", entry.id, &pattern)).map_err(fail)?;
            tx.commit().map_err(fail)?;
            println!(
                "blocked {} (entry {}): their calls hear a busy signal, they are never texted back, and their texts get no answer",
                pattern.describe(),
                entry.id
            );
        }
        None => println!("{} was already blocked", pattern.describe()),
    }
    Ok(())
}

pub fn remove(
    config: &Config,
    number: Option<&str>,
    prefix: Option<&str>,
    org: Option<&str>,
) -> Result<(), CliError> {
    let (db, org, pattern) = target(config, org, number, prefix)?;
    let mut conn = db.conn().map_err(fail)?;
    let tx = conn.transaction().map_err(fail)?;
    let Some(entry) = blocklist::find(&tx, org, &pattern).map_err(fail)? else {
        return Err(fail(format!(
            "{} is not blocked: `switchboard block list` shows what is",
            pattern.describe()
        )));
    };
    blocklist::remove(&tx, org, entry.id).map_err(fail)?;
    audit::record(&tx, record(org, "blocklist.remove", entry.id, &pattern)).map_err(fail)?;
    tx.commit().map_err(fail)?;
    println!("{} is no longer blocked", pattern.describe());
    Ok(())
}

pub fn list(config: &Config, org: Option<&str>) -> Result<(), CliError> {
    let db = open_db(config)?;
    let org = super::number::org_id(&db, org)?;
    let conn = db.conn().map_err(fail)?;
    let entries = blocklist::list(&conn, org).map_err(fail)?;
    if entries.is_empty() {
        println!("nobody is blocked");
    }
    for e in entries {
        let what = e.pattern().map_or_else(|| "?".into(), |p| p.describe());
        let note = if e.note.is_empty() { "-" } else { &e.note };
        println!(
            "{what}\t{note}\t{}\t{}",
            e.created_by.as_deref().unwrap_or("-"),
            e.created_at
        );
    }
    Ok(())
}
