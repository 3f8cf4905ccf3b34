//! `switchboard doctor` (SPEC §9.3): the checks of [`crate::doctor`], printed with their
//! fixes; exit 0 only when none fails.

use super::admin::as_served;
use super::number::{master, telephony_for};
use super::{fail, open_db, CliError};
use crate::config::Config;
use crate::doctor::{all_pass, Check, Doctor, Verdict};

fn print(check: &Check) {
    let mark = match check.verdict {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Skip => "–",
    };
    println!("{mark} {}: {}", check.name, check.detail);
    if let Some(fix) = &check.fix {
        println!("    fix: {fix}");
    }
}

pub async fn run(config: &Config) -> Result<(), CliError> {
    let db = match open_db(config) {
        Ok(db) => db,
        Err(e) => {
            print(&Check {
                name: "database".into(),
                verdict: Verdict::Fail,
                detail: e.to_string(),
                fix: Some(
                    "Check --data-dir / SWITCHBOARD_DATA_DIR and the file's permissions.".into(),
                ),
            });
            return Err(fail("the database cannot be opened"));
        }
    };
    let (served, demo) = as_served(config);
    let (telephony, public_url) = if demo {
        // The demo's sandbox lives in the serving process; what can be checked from here
        // is the round trip through its local address, signed with its sandbox account.
        let url = config
            .public_url
            .clone()
            .unwrap_or_else(|| config.local_base_url());
        (None, Some(url))
    } else {
        let url = config.public_url.clone();
        let telephony = telephony_for(config, db.clone(), url.clone().unwrap_or_default())?;
        (Some(telephony), url)
    };
    let doctor = Doctor {
        master: master(&served),
        config: served,
        db,
        telephony,
        public_url,
        org: None,
        tls: None,
    };
    let checks = doctor.examine().await;
    for check in &checks {
        print(check);
    }
    if all_pass(&checks) {
        println!("All checks passed.");
        Ok(())
    } else {
        let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        Err(fail(format!(
            "{failed} of {} checks failed; each says what to do.",
            checks.len()
        )))
    }
}
