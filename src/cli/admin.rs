//! Operator commands: `migrate`, `backup`, `restore`, `config`, `healthcheck`.

use super::{fail, CliError};
use crate::config::{Config, Secret};
use crate::crypto::SecretKey;
use crate::db::{backup, migrations, provider_accounts, settings, Db};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

pub fn migrate(config: &Config) -> Result<(), CliError> {
    let (_, report) = Db::open(&config.db_path(), &config.backups_dir()).map_err(fail)?;
    if report.from == report.to {
        println!(
            "database {} is at schema version {} (current)",
            config.db_path().display(),
            report.to
        );
    } else {
        println!(
            "migrated {} from schema version {} to {}",
            config.db_path().display(),
            report.from,
            report.to
        );
        if let Some(path) = report.backup {
            println!("backup of the previous database: {}", path.display());
        }
    }
    Ok(())
}

pub fn backup(config: &Config, file: &Path, force: bool) -> Result<(), CliError> {
    let version = backup::backup_to(&config.db_path(), file, force).map_err(fail)?;
    println!(
        "backed up {} (schema version {version}) to {}",
        config.db_path().display(),
        file.display()
    );
    Ok(())
}

/// The data dir's secret key, without creating one (unlike serving, which does).
fn existing_key(config: &Config) -> Result<Option<SecretKey>, CliError> {
    if config.secret_key.is_some() || config.data_dir.join("secret.key").exists() {
        crate::startup::secret_key(config).map(Some).map_err(fail)
    } else {
        Ok(None)
    }
}

pub fn restore(config: &Config, file: &Path) -> Result<(), CliError> {
    // The key is looked for, never made: see `backup::restore_file`.
    let key = existing_key(config)?;
    let report = backup::restore_file(file, &config.db_path(), &config.backups_dir(), key.as_ref())
        .map_err(fail)?;
    println!(
        "restored {} (schema version {}) into {}",
        file.display(),
        report.restored_version,
        config.db_path().display()
    );
    if let Some(path) = report.safety_backup {
        println!("the database it replaced was saved to {}", path.display());
    }
    if report.migrated_to != report.restored_version {
        println!(
            "migrated the restored database to schema version {}",
            report.migrated_to
        );
    }
    Ok(())
}

/// The configuration `serve` runs with in this data dir, and whether it is a demo: a demo
/// data dir only serves with `--demo`, with its sandbox credentials (the environment's
/// values win, as in `demo::prepare`).
pub(super) fn as_served(config: &Config) -> (Config, bool) {
    let mut served = config.clone();
    let Some(demo) = demo_credentials(config) else {
        return (served, false);
    };
    served.demo = true;
    if let Some((sid, token)) = demo.twilio {
        served.twilio_account_sid = Some(sid);
        served.twilio_auth_token = Some(Secret::new(token));
    }
    if let Some(secret) = demo.vapi_secret {
        served.vapi_webhook_secret = Some(Secret::new(secret));
    }
    (served, true)
}

pub fn show_config(config: &Config) -> Result<(), CliError> {
    let (effective, demo) = as_served(config);
    let mut listing = effective.redacted_listing();
    if demo {
        println!("# This data directory is a demo made by `switchboard serve --demo`: sandbox");
        println!("# providers and made-up credentials, no real accounts. Serve it with --demo;");
        println!("# `switchboard simulate` signs its requests with the sandbox values below.");
        // Sandbox values are not secrets; the operator needs them to sign test requests.
        for (key, secret) in [
            (
                "SWITCHBOARD_TWILIO_AUTH_TOKEN",
                &effective.twilio_auth_token,
            ),
            (
                "SWITCHBOARD_VAPI_WEBHOOK_SECRET",
                &effective.vapi_webhook_secret,
            ),
        ] {
            if let Some(secret) = secret {
                listing.insert(key.into(), secret.expose().to_string());
            }
        }
    }
    for (key, value) in listing {
        println!("{key}={value}");
    }
    println!(
        "# database: {} (binary schema version {})",
        config.db_path().display(),
        migrations::latest_version()
    );
    for warning in effective.warnings() {
        println!("# warning: {warning}");
    }
    Ok(())
}

/// The sandbox credentials `serve --demo` generated and keeps in its data dir.
struct DemoCredentials {
    /// (Account SID, auth token) of the sandbox Twilio master account.
    pub twilio: Option<(String, String)>,
    pub vapi_secret: Option<String>,
}

/// The sandbox credentials stored by `serve --demo`, if this data dir is a demo.
fn demo_credentials(config: &Config) -> Option<DemoCredentials> {
    let path = config.db_path();
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    if !crate::demo::is_demo_database(&conn).ok()? {
        return None;
    }
    let key = crate::startup::secret_key(config).ok()?;
    let configured = super::number::master(config).map(|m| (m.account_sid, m.auth_token));
    let twilio = configured.or_else(|| {
        let sid = provider_accounts::master_sid(&conn, "twilio")
            .ok()
            .flatten()?;
        let token = provider_accounts::secret(&conn, &key, "twilio", &sid)
            .ok()
            .flatten()?;
        Some((sid, token))
    });
    let vapi_secret = match &config.vapi_webhook_secret {
        Some(s) => Some(s.expose().to_string()),
        None => settings::get(&conn, "demo.vapi_webhook_secret")
            .ok()
            .flatten()
            .and_then(|sealed| key.decrypt(&sealed, "demo.vapi_webhook_secret").ok()),
    };
    Some(DemoCredentials {
        twilio,
        vapi_secret,
    })
}

pub async fn healthcheck(config: &Config, url: Option<&str>) -> Result<(), CliError> {
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => config.local_base_url(),
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(fail)?;
    let target = format!("{base}/healthz");
    match client.get(&target).send().await {
        Ok(resp) if resp.status().is_success() => {
            println!("ok: {target}");
            Ok(())
        }
        Ok(resp) => Err(fail(format!(
            "{target} answered HTTP {}",
            resp.status().as_u16()
        ))),
        Err(e) => Err(fail(format!("{target} did not answer: {e}"))),
    }
}
