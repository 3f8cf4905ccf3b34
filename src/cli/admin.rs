//! Operator commands: `migrate`, `backup`, `restore`, `config`, `healthcheck`.

use super::{fail, CliError};
use crate::config::Config;
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

pub fn backup(config: &Config, file: &Path) -> Result<(), CliError> {
    let version = backup::backup_file(&config.db_path(), file).map_err(fail)?;
    println!(
        "backed up {} (schema version {version}) to {}",
        config.db_path().display(),
        file.display()
    );
    Ok(())
}

pub fn restore(config: &Config, file: &Path) -> Result<(), CliError> {
    let report =
        backup::restore_file(file, &config.db_path(), &config.backups_dir()).map_err(fail)?;
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

pub fn show_config(config: &Config) -> Result<(), CliError> {
    for (key, value) in config.redacted_listing() {
        println!("{key}={value}");
    }
    println!(
        "# database: {} (binary schema version {})",
        config.db_path().display(),
        migrations::latest_version()
    );
    if let Some(demo) = demo_credentials(config) {
        println!("# This data directory is a demo: these are its sandbox credentials (not real accounts).");
        println!("# Use them to sign requests to the demo, e.g. with `switchboard simulate`.");
        for (key, value) in demo {
            println!("# {key}={value}");
        }
    }
    for warning in config.warnings() {
        println!("# warning: {warning}");
    }
    Ok(())
}

/// The sandbox credentials stored by `serve --demo`, if this data dir is a demo.
fn demo_credentials(config: &Config) -> Option<Vec<(&'static str, String)>> {
    let path = config.db_path();
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    if !crate::demo::is_demo_database(&conn).ok()? {
        return None;
    }
    let key = crate::startup::secret_key(config).ok()?;
    let mut out = Vec::new();
    let sid = config.twilio_account_sid.clone().or_else(|| {
        provider_accounts::master_sid(&conn, "twilio")
            .ok()
            .flatten()
    });
    if let Some(sid) = sid {
        let token = match &config.twilio_auth_token {
            Some(t) => Some(t.expose().to_string()),
            None => provider_accounts::secret(&conn, &key, "twilio", &sid)
                .ok()
                .flatten(),
        };
        out.push(("SWITCHBOARD_TWILIO_ACCOUNT_SID", sid));
        out.push((
            "SWITCHBOARD_TWILIO_AUTH_TOKEN",
            token.unwrap_or_else(|| "(unreadable)".into()),
        ));
    }
    let vapi = match &config.vapi_webhook_secret {
        Some(s) => Some(s.expose().to_string()),
        None => settings::get(&conn, "demo.vapi_webhook_secret")
            .ok()
            .flatten()
            .and_then(|sealed| key.decrypt(&sealed, "demo.vapi_webhook_secret").ok()),
    };
    if let Some(secret) = vapi {
        out.push(("SWITCHBOARD_VAPI_WEBHOOK_SECRET", secret));
    }
    Some(out)
}

pub async fn healthcheck(config: &Config, url: Option<&str>) -> Result<(), CliError> {
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let ip = config.listen.ip();
            let host = if ip.is_unspecified() {
                "127.0.0.1".to_string()
            } else if ip.is_ipv6() {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            format!("http://{host}:{}", config.listen.port())
        }
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
