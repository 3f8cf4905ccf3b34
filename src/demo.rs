//! `serve --demo` (SPEC §9.1): the documented demo org "Demo Plumbing" with its numbers,
//! agent and owner, plus sandbox credentials generated once and kept encrypted.

use crate::config::Config;
use crate::crypto::{self, SecretKey};
use crate::db::{agents, numbers, orgs, provider_accounts, settings, users};
use crate::domain::callflow::CallFlow;
use crate::domain::{FlagKey, NumberHandler, NumberOrigin, NumberRole, PhoneNumber, UserRole};
use crate::providers::TwilioCreds;
use rusqlite::Connection;

pub const DEMO_ORG: &str = "Demo Plumbing";
pub const DEMO_OWNER_EMAIL: &str = "owner@demo-plumbing.example";
pub const DEMO_AGENT: &str = "Front desk AI";
pub const DEMO_ASSISTANT_ID: &str = "asst_demo_frontdesk";

/// The documented demo numbers: (number, role, handler, friendly name).
pub const DEMO_NUMBERS: [(&str, NumberRole, NumberHandler, &str); 4] = [
    (
        "+15550100001",
        NumberRole::Operational,
        NumberHandler::Ivr,
        "Main line",
    ),
    (
        "+15550100002",
        NumberRole::Onboarding,
        NumberHandler::Ivr,
        "Sign-up by text",
    ),
    (
        "+15550100003",
        NumberRole::System,
        NumberHandler::Ivr,
        "System",
    ),
    (
        "+15550100004",
        NumberRole::Operational,
        NumberHandler::Vapi,
        "AI front desk",
    ),
];

/// Numbers the demo's sandbox Twilio account owns but the appliance does not hold yet:
/// what `GET /api/numbers/importable` offers in the demo. Their webhooks point at a
/// fictional previous provider until imported.
pub const DEMO_IMPORTABLE: [&str; 2] = ["+15550100010", "+15550100011"];
pub const DEMO_PREVIOUS_WEBHOOK: &str = "https://previous-provider.example/voice";

/// Dial targets of the demo menu (1 sales, 2 support).
pub const DEMO_SALES: &str = "+15550100101";
pub const DEMO_SUPPORT: &str = "+15550100102";
/// The demo owner's mobile: voicemail and lead notifications are texted here.
pub const DEMO_OWNER_MOBILE: &str = "+15550100199";

const MODE_KEY: &str = "demo_mode";
const VAPI_SECRET_KEY: &str = "demo.vapi_webhook_secret";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the data directory {0} holds a real (non-demo) database; demo mode would answer its numbers with sandbox \
         providers. Run the demo with another data directory: `switchboard --data-dir ./demo-data serve --demo`"
    )]
    RealDatabase(String),
    #[error(
        "the data directory {0} was created by `serve --demo` and holds sandbox numbers; start the real appliance \
         with a fresh --data-dir (or keep using `serve --demo`)"
    )]
    DemoDatabase(String),
    #[error("demo setup failed: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("demo setup failed: {0}")]
    Store(#[from] crate::db::DbError),
    #[error("demo setup failed: {0}")]
    Secret(#[from] provider_accounts::SecretError),
    #[error("demo setup failed: {0}")]
    Crypto(#[from] crypto::CryptoError),
}

/// What the demo runs with.
#[derive(Debug)]
pub struct DemoSetup {
    pub twilio: TwilioCreds,
    pub vapi_webhook_secret: String,
    /// Set on the first start only: the owner's email and password, printed once.
    pub new_owner: Option<(String, String)>,
}

/// True when the database was created by `serve --demo`.
pub fn is_demo_database(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(settings::get(conn, MODE_KEY)?.as_deref() == Some("true"))
}

/// Refuses to run the real appliance on a demo database.
pub fn refuse_demo_database(conn: &Connection, config: &Config) -> Result<(), DemoError> {
    if is_demo_database(conn)? {
        return Err(DemoError::DemoDatabase(
            config.data_dir.display().to_string(),
        ));
    }
    Ok(())
}

/// Prepares a demo database: credentials (from the environment when set, otherwise
/// generated once and stored encrypted) and, on an empty database, the demo org.
pub fn prepare(
    conn: &mut Connection,
    key: &SecretKey,
    config: &Config,
) -> Result<DemoSetup, DemoError> {
    let org_count = orgs::count(conn)?;
    if org_count > 0 && !is_demo_database(conn)? {
        return Err(DemoError::RealDatabase(
            config.data_dir.display().to_string(),
        ));
    }
    let tx = conn.transaction()?;
    settings::set(&tx, MODE_KEY, "true")?;
    let twilio = twilio_credentials(&tx, key, config)?;
    let vapi_webhook_secret = match &config.vapi_webhook_secret {
        Some(secret) => secret.expose().to_string(),
        None => match settings::get(&tx, VAPI_SECRET_KEY)? {
            Some(sealed) => key.decrypt(&sealed, VAPI_SECRET_KEY)?,
            None => {
                let secret = crypto::random_token(24);
                settings::set(&tx, VAPI_SECRET_KEY, &key.encrypt(&secret, VAPI_SECRET_KEY))?;
                secret
            }
        },
    };
    let new_owner = if org_count == 0 {
        Some(seed(&tx)?)
    } else {
        None
    };
    tx.commit()?;
    Ok(DemoSetup {
        twilio,
        vapi_webhook_secret,
        new_owner,
    })
}

fn twilio_credentials(
    conn: &Connection,
    key: &SecretKey,
    config: &Config,
) -> Result<TwilioCreds, DemoError> {
    if let (Some(sid), Some(token)) = (&config.twilio_account_sid, &config.twilio_auth_token) {
        if provider_accounts::find_by_sid(conn, "twilio", sid)?.is_none() {
            store_master(conn, key, sid, token.expose())?;
        }
        return Ok(TwilioCreds {
            account_sid: sid.clone(),
            auth_token: token.expose().to_string(),
        });
    }
    if let Some(sid) = provider_accounts::master_sid(conn, "twilio")? {
        if let Some(token) = provider_accounts::secret(conn, key, "twilio", &sid)? {
            return Ok(TwilioCreds {
                account_sid: sid,
                auth_token: token,
            });
        }
    }
    let creds = TwilioCreds {
        account_sid: format!("AC{}", crypto::random_hex(32)),
        auth_token: crypto::random_hex(32),
    };
    store_master(conn, key, &creds.account_sid, &creds.auth_token)?;
    Ok(creds)
}

fn store_master(
    conn: &Connection,
    key: &SecretKey,
    sid: &str,
    token: &str,
) -> rusqlite::Result<i64> {
    provider_accounts::insert(
        conn,
        key,
        &provider_accounts::NewAccount {
            org_id: None,
            created_by_saga: None,
            provider: "twilio",
            kind: "master",
            account_sid: sid,
            secret: token,
            is_managed: false,
            friendly_name: Some("Sandbox master account"),
        },
    )
}

/// Creates the demo org, its owner, agent and numbers; returns the owner's credentials.
fn seed(conn: &Connection) -> Result<(String, String), DemoError> {
    let org_id = orgs::create(conn, DEMO_ORG, "UTC", true)?;
    // Notifications go to the owner's mobile; a caller the AI cannot help goes to support.
    orgs::set_contacts(conn, org_id, DEMO_OWNER_MOBILE, DEMO_SUPPORT)?;
    let flow = CallFlow::demo(
        PhoneNumber::parse(DEMO_SALES).expect("valid demo number"),
        PhoneNumber::parse(DEMO_SUPPORT).expect("valid demo number"),
    );
    crate::db::callflows::put_org_flow(conn, org_id, &flow, None)?;
    let password = crypto::generate_password();
    let hash = crypto::hash_password(&password)?;
    users::create(conn, org_id, DEMO_OWNER_EMAIL, &hash, UserRole::Owner)?;
    let agent_id = agents::insert(conn, org_id, DEMO_AGENT, Some(DEMO_ASSISTANT_ID), None)?;
    for (e164, role, handler, name) in DEMO_NUMBERS {
        let e164 = PhoneNumber::parse(e164).expect("demo numbers are valid E.164");
        let twilio_sid = format!("PN{}", crypto::random_hex(32));
        let vapi_id = (handler == NumberHandler::Vapi).then(crypto::random_uuid);
        numbers::insert(
            conn,
            &numbers::NewNumber {
                org_id,
                e164: &e164,
                role,
                handler,
                origin: NumberOrigin::Manual,
                twilio_sid: Some(&twilio_sid),
                provider_account_id: None,
                vapi_phone_number_id: vapi_id.as_deref(),
                agent_id: (handler == NumberHandler::Vapi).then_some(agent_id),
                friendly_name: Some(name),
                description: Some("Demo number (sandbox)"),
            },
        )?;
    }
    // Every path is tryable at once in the demo: text-back and the other features are on.
    for flag in FlagKey::ALL {
        crate::db::flags::turn_on(conn, org_id, flag.as_str())?;
    }
    crate::db::audit::record(
        conn,
        crate::db::audit::Record {
            org_id: Some(org_id),
            user_id: None,
            actor: "system",
            action: "demo.seed",
            target: Some(format!("org:{org_id}")),
            detail: None,
            ip: None,
        },
    )?;
    Ok((DEMO_OWNER_EMAIL.to_string(), password))
}
