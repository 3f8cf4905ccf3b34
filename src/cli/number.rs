//! `switchboard number import|list|set|release` and `switchboard agent add|list`: the
//! operator's way to make a real appliance answer calls, with the same operations (and
//! sagas) as the API. Run them beside a serving appliance or on their own.

use super::{fail, CliError};
use crate::config::Config;
use crate::db::{agents, orgs, Db};
use crate::domain::{NumberHandler, NumberRole};
use crate::providers::{Providers, TwilioCreds};
use crate::telephony::TelephonyError;
use crate::telephony::{self, import, release, update, Telephony};
use std::sync::Arc;

fn open(config: &Config) -> Result<Db, CliError> {
    let db = super::open_db(config)?;
    if crate::demo::is_demo_database(&*db.conn().map_err(fail)?).map_err(fail)? {
        return Err(fail(
            "this data directory is a demo: its numbers live in the running demo's in-memory sandbox. \
             Use the demo's dashboard (Numbers page), or a real data directory with Twilio credentials",
        ));
    }
    Ok(db)
}

/// The org to act on: `--org NAME`, or the only one.
pub(super) fn org_id(db: &Db, name: Option<&str>) -> Result<i64, CliError> {
    let conn = db.conn().map_err(fail)?;
    if let Some(name) = name {
        return orgs::find_by_name(&conn, name)
            .map_err(fail)?
            .map(|o| o.id)
            .ok_or_else(|| fail(format!("--org: there is no organization named \"{name}\"")));
    }
    let all = orgs::list(&conn).map_err(fail)?;
    match all.as_slice() {
        [one] => Ok(one.id),
        [] => Err(fail("there is no organization yet: create the owner first with `switchboard user add --email … --role owner --org \"Your Business\"`")),
        _ => Err(fail("there are several organizations: name one with --org")),
    }
}

fn telephony(config: &Config, db: Db) -> Result<Arc<Telephony>, CliError> {
    let public_url = config.public_url.clone().ok_or_else(|| {
        fail("SWITCHBOARD_PUBLIC_URL is not set: Twilio must know where to send calls (e.g. https://phones.example.com)")
    })?;
    telephony_for(config, db, public_url)
}

/// The configured master account, if both its SID and token are set.
pub(super) fn master(config: &Config) -> Option<TwilioCreds> {
    match (&config.twilio_account_sid, &config.twilio_auth_token) {
        (Some(sid), Some(token)) => Some(TwilioCreds {
            account_sid: sid.clone(),
            auth_token: token.expose().to_string(),
        }),
        _ => None,
    }
}

/// The real providers with the configured credentials, for numbers called at `public_url`.
pub(super) fn telephony_for(
    config: &Config,
    db: Db,
    public_url: String,
) -> Result<Arc<Telephony>, CliError> {
    let master = master(config);
    let key = crate::startup::secret_key(config).map_err(fail)?;
    let providers = Providers::real(
        &config.twilio_api_base,
        &config.vapi_api_base,
        config.vapi_api_key.as_ref().map(|k| k.expose()),
    );
    Ok(Telephony::new(
        db,
        providers,
        crate::accounts::TwilioAccounts::new(master, key),
        public_url,
        config.vapi_api_key.is_some(),
    ))
}

/// Number operations' errors in one line an operator can act on, with their exit code.
fn explain(e: TelephonyError) -> CliError {
    let message = match &e {
        TelephonyError::Saga(f) => format!(
            "step {} failed: {} (nothing was left behind unless it says otherwise)",
            f.step, f.error
        ),
        other => other.to_string(),
    };
    CliError::Number {
        message,
        exit: e.exit_code(),
    }
}

fn agent_by_name(db: &Db, org: i64, name: Option<&str>) -> Result<Option<i64>, CliError> {
    let Some(name) = name else { return Ok(None) };
    let conn = db.conn().map_err(fail)?;
    agents::find_by_name(&conn, org, name)
        .map_err(fail)?
        .map(|a| Some(a.id))
        .ok_or_else(|| {
            fail(format!(
                "--agent: there is no agent named \"{name}\"; add it with `switchboard agent add`"
            ))
        })
}

fn parse_role(raw: &str) -> Result<NumberRole, CliError> {
    NumberRole::parse(raw).map_err(|m| fail(format!("--role: {m}")))
}

fn parse_handler(raw: &str) -> Result<NumberHandler, CliError> {
    NumberHandler::parse(raw).map_err(|m| fail(format!("--handler: {m}")))
}

pub struct ImportArgs<'a> {
    pub e164: Option<&'a str>,
    pub role: &'a str,
    pub handler: &'a str,
    pub agent: Option<&'a str>,
    pub name: Option<&'a str>,
    pub org: Option<&'a str>,
}

pub async fn import(config: &Config, a: ImportArgs<'_>) -> Result<(), CliError> {
    let db = open(config)?;
    let org = org_id(&db, a.org)?;
    let t = telephony(config, db.clone())?;
    let Some(e164) = a.e164 else {
        let list = import::importable(&t).await.map_err(explain)?;
        if list.is_empty() {
            println!("every number of the Twilio account is already on this appliance");
        }
        for n in list {
            println!(
                "{}\t{}\tvoice → {}",
                n.phone_number,
                n.friendly_name.unwrap_or_default(),
                n.voice_url.unwrap_or_else(|| "(none)".into())
            );
        }
        println!("import one with `switchboard number import +1… --role operational`");
        return Ok(());
    };
    let req = telephony::NumberRequest {
        org_id: org,
        e164: telephony::parse_number("the number", e164).map_err(explain)?,
        role: parse_role(a.role)?,
        handler: parse_handler(a.handler)?,
        agent_id: agent_by_name(&db, org, a.agent)?,
        friendly_name: a.name.map(str::to_string),
        actor: "cli".into(),
        user_id: None,
    };
    let n = import::import(&t, req).await.map_err(explain)?;
    println!(
        "imported {} as {} ({}); its calls and texts now come to {}",
        n.e164, n.role, n.handler, t.public_url
    );
    Ok(())
}

pub fn list(config: &Config, org: Option<&str>, all: bool) -> Result<(), CliError> {
    let db = super::open_db(config)?;
    let org = org_id(&db, org)?;
    let conn = db.conn().map_err(fail)?;
    let rows = crate::db::numbers::list_for_org(&conn, org, all).map_err(fail)?;
    if rows.is_empty() {
        println!("no numbers: import one with `switchboard number import`");
    }
    for n in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            n.e164,
            n.role,
            n.handler,
            n.origin,
            n.status,
            n.agent_name.unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

pub struct SetArgs<'a> {
    pub e164: &'a str,
    pub role: Option<&'a str>,
    pub handler: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub no_agent: bool,
    pub name: Option<&'a str>,
    pub org: Option<&'a str>,
}

pub async fn set(config: &Config, a: SetArgs<'_>) -> Result<(), CliError> {
    let db = open(config)?;
    let org = org_id(&db, a.org)?;
    let t = telephony(config, db.clone())?;
    let change = update::Change {
        role: a.role.map(parse_role).transpose()?,
        handler: a.handler.map(parse_handler).transpose()?,
        agent_id: if a.no_agent {
            Some(None)
        } else {
            agent_by_name(&db, org, a.agent)?.map(Some)
        },
        friendly_name: a.name.map(|n| Some(n.to_string())),
    };
    let e164 = telephony::parse_number("the number", a.e164).map_err(explain)?;
    let n = update::update(&t, org, &e164, change, "cli", None)
        .await
        .map_err(explain)?;
    println!(
        "{}: {} ({}), agent {}",
        n.e164,
        n.role,
        n.handler,
        n.agent_name.unwrap_or_else(|| "none".into())
    );
    Ok(())
}

pub async fn release(
    config: &Config,
    e164: &str,
    dry_run: bool,
    org: Option<&str>,
) -> Result<(), CliError> {
    let db = open(config)?;
    let org = org_id(&db, org)?;
    let t = telephony(config, db)?;
    let e164 = telephony::parse_number("the number", e164).map_err(explain)?;
    match release::release(&t, org, &e164, dry_run, "cli", None)
        .await
        .map_err(explain)?
    {
        release::Outcome::Plan { plan, .. } => {
            for step in plan.steps {
                println!("- {}", step.description);
            }
            for agent in plan.agents_to_unlink {
                println!("unlinks agent {}", agent.name);
            }
        }
        release::Outcome::Released(n) => println!(
            "released {} at {}",
            n.e164,
            n.released_at.unwrap_or_default()
        ),
    }
    Ok(())
}

pub fn agent_add(
    config: &Config,
    name: &str,
    assistant: Option<&str>,
    sip: Option<&str>,
    org: Option<&str>,
) -> Result<(), CliError> {
    let db = super::open_db(config)?;
    let org = org_id(&db, org)?;
    crate::domain::agent::check_name(name).map_err(|m| fail(format!("--name: {m}")))?;
    if let Some(uri) = sip {
        crate::domain::agent::check_sip_uri(uri).map_err(|m| fail(format!("--sip-uri: {m}")))?;
    }
    let conn = db.conn().map_err(fail)?;
    let id = agents::insert(&conn, org, name.trim(), assistant, sip).map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            fail("an agent with that name or assistant id already exists")
        } else {
            fail(e)
        }
    })?;
    println!("added agent {} (id {id})", name.trim());
    Ok(())
}

pub fn agent_list(config: &Config, org: Option<&str>) -> Result<(), CliError> {
    let db = super::open_db(config)?;
    let org = org_id(&db, org)?;
    let conn = db.conn().map_err(fail)?;
    for a in agents::list_for_org(&conn, org).map_err(fail)? {
        println!(
            "{}\t{}\t{}\t{}",
            a.name,
            a.vapi_assistant_id.unwrap_or_else(|| "-".into()),
            a.sip_uri.unwrap_or_else(|| "-".into()),
            if a.numbers.is_empty() {
                "-".into()
            } else {
                a.numbers.join(",")
            }
        );
    }
    Ok(())
}
