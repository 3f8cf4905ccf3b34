//! `switchboard doctor` (SPEC §9.3), also shown on the dashboard's Settings page: every
//! check an operator would otherwise do by hand after an install or an outage, each
//! passed or failed with what to do about it.

mod tls;
pub mod warnings;

use crate::config::Config;
use crate::db::{backup, migrations, numbers, snapshot, Db};
use crate::domain::webhook::TwilioRoute;
use crate::domain::NumberHandler;
use crate::providers::{NumberWebhooks, ProviderErrorKind, TwilioCreds};
use crate::simulator::{Simulator, Target};
use crate::telephony::Telephony;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Could not be checked from here; says why (not a failure).
    Skip,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// Whether every check passed or was skipped.
pub fn all_pass(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict != Verdict::Fail)
}

/// What the checks look at.
pub struct Doctor {
    pub config: Config,
    pub db: Db,
    /// The provider clients and the numbers' credentials; `None` where they cannot be
    /// reached from here (the CLI on a demo data dir: its sandbox lives in the server).
    pub telephony: Option<Arc<Telephony>>,
    /// The master account, to sign the round trip with.
    pub master: Option<TwilioCreds>,
    /// The URL Twilio calls: `PUBLIC_URL`, or the demo's local address.
    pub public_url: Option<String>,
    /// Only this organization's numbers (the dashboard); every number when `None` (the
    /// operator's command line).
    pub org: Option<i64>,
    /// The running appliance's certificate (the dashboard); the command line reads it from
    /// the data dir or the user's file.
    pub tls: Option<Arc<crate::tls::Certificates>>,
}

/// How far this host's clock may be from Twilio's (Vapi's signatures allow 5 minutes).
const CLOCK_SKEW_SECS: i64 = 30;
/// A `switchboard backup` older than this is not recent.
const BACKUP_MAX_AGE_HOURS: i64 = 48;
/// Litestream's shadow WAL is written on every sync; older than this, it has stopped.
const LITESTREAM_MAX_AGE: Duration = Duration::from_secs(600);
/// Less free space than this fails the disk check, whatever the database's size.
const MIN_FREE_BYTES: u64 = 1 << 30;

impl Doctor {
    /// Runs every check, in the order an operator would fix them.
    pub async fn examine(&self) -> Vec<Check> {
        let mut out = vec![self.configuration(), self.database().await];
        out.push(self.round_trip().await);
        out.extend(
            tls::checks(
                self.config.tls.as_ref(),
                &self.config.data_dir,
                self.tls.as_deref(),
            )
            .await,
        );
        out.extend(self.twilio().await);
        out.push(self.backup().await);
        out.push(self.disk());
        out
    }

    fn configuration(&self) -> Check {
        let problems = self.config.gaps();
        if problems.is_empty() {
            let advice = self.config.warnings();
            let detail = if advice.is_empty() {
                "complete".to_string()
            } else {
                format!("complete; to consider: {}", advice.join(" "))
            };
            Check::pass("configuration", detail)
        } else {
            Check::fail(
                "configuration",
                problems.join(" "),
                "Set the named settings in the settings file (e.g. /etc/switchboard/switchboard.env) \
                 and restart; `switchboard config` shows what is in effect.",
            )
        }
    }

    async fn database(&self) -> Check {
        let db = self.db.clone();
        // Not through `Db::run`: a large database takes longer than its timeout.
        let found = tokio::task::spawn_blocking(move || -> Result<(String, u32), String> {
            let conn = db.conn().map_err(|e| e.to_string())?;
            let verdict = snapshot::quick_check(&conn).map_err(|e| e.to_string())?;
            let version = migrations::current_version(&conn).map_err(|e| e.to_string())?;
            Ok((verdict, version))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let latest = migrations::latest_version();
        match found {
            Err(e) => Check::fail(
                "database",
                format!("cannot read the database: {e}"),
                "Check the data directory's permissions and free space, then restart.",
            ),
            Ok((verdict, _)) if verdict != "ok" => Check::fail(
                "database",
                format!("SQLite's quick check found damage: {verdict}"),
                "Stop the appliance and restore the last good backup (`switchboard restore FILE`).",
            ),
            Ok((_, version)) if version != latest => Check::fail(
                "database",
                format!("schema version {version}, this binary expects {latest}"),
                "Run `switchboard migrate` (serving does it on start).",
            ),
            Ok((_, version)) => Check::pass(
                "database",
                format!("intact, schema version {version} (current)"),
            ),
        }
    }

    /// A request signed like Twilio's, sent to `PUBLIC_URL`: it must come back verified,
    /// which proves the URL reaches this appliance and nothing on the way rewrites the
    /// scheme, host or path Twilio signs.
    async fn round_trip(&self) -> Check {
        const NAME: &str = "PUBLIC_URL round trip";
        let Some(base) = self.public_url.as_deref() else {
            return Check::fail(
                NAME,
                "SWITCHBOARD_PUBLIC_URL is not set",
                "Set SWITCHBOARD_PUBLIC_URL to the https URL Twilio reaches this appliance at.",
            );
        };
        let parsed = reqwest::Url::parse(base);
        let well_formed = parsed.as_ref().is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
        });
        if !well_formed {
            return Check::fail(
                NAME,
                format!("{base} is not a plain http(s) URL"),
                "Write it as https://host[:port][/prefix], without a query or fragment.",
            );
        }
        let Some(master) = self.master.clone() else {
            return Check::skip(
                NAME,
                "no Twilio credentials to sign with (see configuration)",
            );
        };
        let sim = Simulator::new(Target {
            base: base.to_string(),
            signed_base: base.to_string(),
            twilio: Some((master.account_sid, master.auth_token)),
            vapi_secret: None,
        });
        let url = TwilioRoute::SelfCheck.url(base);
        let nonce = crate::crypto::random_token(12);
        let answer = match sim {
            Ok(sim) => {
                sim.twilio(TwilioRoute::SelfCheck.path(), &[("Nonce", &nonce)])
                    .await
            }
            Err(e) => return Check::fail(NAME, e.to_string(), "Report this as a bug."),
        };
        match answer {
            Ok(a) if a.status == 200 => Check::pass(
                NAME,
                format!("a request signed for {url} came back verified"),
            ),
            Ok(a) if a.status == 403 => Check::fail(
                NAME,
                format!(
                    "{url} reached an appliance, but the signature did not match the URL it saw"
                ),
                "Something on the way changes the scheme, host or path Twilio signs. Make \
                 PUBLIC_URL the exact URL the proxy serves; if the proxy terminates TLS, have it \
                 send X-Forwarded-Proto and X-Forwarded-Host and set SWITCHBOARD_TRUST_PROXY=true.",
            ),
            Ok(a) if a.status == 404 => Check::fail(
                NAME,
                format!("{url} answered 404: something else serves that URL"),
                "Make the proxy forward /twilio/ and /vapi/ to this appliance, unchanged.",
            ),
            Ok(a) => Check::fail(
                NAME,
                format!("{url} answered HTTP {}", a.status),
                "Make the proxy forward /twilio/ and /vapi/ to this appliance, unchanged.",
            ),
            Err(e) => Check::fail(
                NAME,
                e.to_string(),
                "Check that the appliance is running, and that DNS, the firewall and the proxy \
                 let Twilio reach this URL from the internet.",
            ),
        }
    }

    /// The credentials, Twilio's clock, and every active number's configuration at Twilio
    /// and Vapi.
    async fn twilio(&self) -> Vec<Check> {
        let Some(t) = &self.telephony else {
            let why = "a demo data dir: its sandbox Twilio and Vapi live inside the running \
                       appliance (Settings → Checks on its dashboard runs these against them)";
            return vec![
                Check::skip("Twilio credentials", why),
                Check::skip("clock", why),
                Check::skip("numbers", why),
            ];
        };
        let Some(master) = &self.master else {
            return vec![Check::fail(
                "Twilio credentials",
                "no Twilio account is configured",
                "Set SWITCHBOARD_TWILIO_ACCOUNT_SID and SWITCHBOARD_TWILIO_AUTH_TOKEN (or _FILE).",
            )];
        };
        let mut out = Vec::new();
        match t.providers.twilio.fetch_account(master).await {
            Ok(info) if info.status == "active" => {
                out.push(Check::pass(
                    "Twilio credentials",
                    format!("account {} is active", master.account_sid),
                ));
                out.push(clock(info.clock));
                out.extend(self.numbers(t).await);
                return out;
            }
            // Numbers are not looked up with credentials Twilio does not take.
            Ok(info) => out.push(Check::fail(
                "Twilio credentials",
                format!("account {} is {}", master.account_sid, info.status),
                "Reactivate the account in the Twilio console (a suspended account takes no calls).",
            )),
            Err(e) if e.kind == ProviderErrorKind::Auth => out.push(Check::fail(
                "Twilio credentials",
                format!("Twilio refused account {}: {}", master.account_sid, e.message),
                "Copy the Account SID and Auth Token again from the Twilio console (a rotated \
                 token invalidates the old one).",
            )),
            Err(e) => out.push(Check::fail(
                "Twilio credentials",
                e.to_string(),
                "Check this host's outbound HTTPS access to Twilio, then run the checks again.",
            )),
        }
        out
    }

    async fn numbers(&self, t: &Arc<Telephony>) -> Vec<Check> {
        let org = self.org;
        let rows = match self
            .db
            .query(move |c| match org {
                Some(org) => numbers::list_for_org(c, org, false),
                None => numbers::list_active(c),
            })
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                return vec![Check::fail(
                    "numbers",
                    format!("cannot read the numbers: {e}"),
                    "See the database check.",
                )]
            }
        };
        if rows.is_empty() {
            return vec![Check::fail(
                "numbers",
                "no number is active: nothing answers calls yet",
                "Numbers → Import a number you own (or Buy a number), or `switchboard number import`.",
            )];
        }
        let hooks = t.webhooks();
        let mut out = Vec::new();
        for n in rows {
            let name = format!("number {}", n.e164);
            let mut problems = Vec::new();
            match &n.twilio_sid {
                None => problems.push("it has no Twilio number SID".to_string()),
                Some(sid) => match t.account(n.account_sid.clone()).await {
                    Err(e) => problems.push(format!("its Twilio account: {e}")),
                    Ok(creds) => match t.providers.twilio.get_number(&creds, sid).await {
                        Ok(at_twilio) => {
                            problems.extend(webhook_problems(&hooks, &at_twilio, n.handler))
                        }
                        Err(e) => problems.push(format!("Twilio: {e}")),
                    },
                },
            }
            if n.handler == NumberHandler::Vapi {
                problems.extend(self.vapi_problems(t, &n).await);
            }
            out.push(if problems.is_empty() {
                let answered = match n.handler {
                    NumberHandler::Vapi => "calls go to Vapi's agent, texts and status here",
                    NumberHandler::Ivr => "voice, SMS and status webhooks point here",
                };
                Check::pass(name, answered)
            } else {
                let fix = match n.handler {
                    NumberHandler::Ivr => format!(
                        "In the Twilio console set the number's Voice URL to {}, its Messaging URL \
                         to {} and its status callback to {} (all POST).",
                        hooks.voice_url, hooks.sms_url, hooks.status_callback
                    ),
                    NumberHandler::Vapi => format!(
                        "Hand it to the agent again (Numbers page, or `switchboard number set {} \
                         --handler vapi --agent NAME`): Vapi takes its voice calls, and its \
                         Messaging URL must stay {} with smsEnabled=false at Vapi.",
                        n.e164, hooks.sms_url
                    ),
                };
                Check::fail(name, problems.join("; "), fix)
            });
        }
        out
    }

    async fn vapi_problems(&self, t: &Arc<Telephony>, n: &numbers::NumberRow) -> Vec<String> {
        let Some(id) = &n.vapi_phone_number_id else {
            return vec!["it is answered by the AI agent but was never imported into Vapi".into()];
        };
        match t.providers.vapi.get_phone_number(id).await {
            Err(e) => vec![format!("Vapi: {e}")],
            Ok(v) => {
                let mut problems = Vec::new();
                if v.sms_enabled {
                    problems.push(
                        "Vapi has smsEnabled=true, so it takes the number's texts away from the \
                         appliance"
                            .to_string(),
                    );
                }
                if v.assistant_id != n.agent_assistant_id {
                    problems.push(format!(
                        "Vapi sends its calls to assistant {}, not to the linked agent's {}",
                        v.assistant_id.as_deref().unwrap_or("(none)"),
                        n.agent_assistant_id.as_deref().unwrap_or("(none)")
                    ));
                }
                problems
            }
        }
    }

    async fn backup(&self) -> Check {
        const NAME: &str = "backup";
        if self.config.demo {
            return Check::skip(NAME, "a demo data dir holds nothing to keep");
        }
        let litestream = litestream_age(&self.config.db_path());
        if self.config.wal_checkpoints == crate::config::Checkpointing::External
            && litestream.is_none_or(|age| age > LITESTREAM_MAX_AGE)
        {
            return Check::fail(
                NAME,
                "SWITCHBOARD_WAL_CHECKPOINTS=litestream, but Litestream has not synced in the \
                 last 10 minutes: nothing is replicated, and nothing checkpoints the WAL, which \
                 grows until it does",
                "Start Litestream (`systemctl enable --now litestream`, packaging/litestream.service) \
                 with the database in its configuration, or set SWITCHBOARD_WAL_CHECKPOINTS=appliance.",
            );
        }
        if let Some(age) = litestream {
            if age <= LITESTREAM_MAX_AGE {
                return Check::pass(
                    NAME,
                    format!(
                        "replicated by Litestream (its last sync {} s ago)",
                        age.as_secs()
                    ),
                );
            }
        }
        let last = self.db.query(|c| backup::last_backup(c)).await;
        let now = chrono::Utc::now();
        let fix = "Run `switchboard backup /var/backups/switchboard-$(date +%F).db` every night \
                   (a systemd timer or cron), or replicate continuously with Litestream (README).";
        match last {
            Ok(Some((at, file))) => {
                let age = chrono::DateTime::parse_from_rfc3339(&at)
                    .map(|t| now.signed_duration_since(t))
                    .unwrap_or(chrono::Duration::MAX);
                if age <= chrono::Duration::hours(BACKUP_MAX_AGE_HOURS) {
                    Check::pass(NAME, format!("last backup {at} to {file}"))
                } else {
                    Check::fail(
                        NAME,
                        format!(
                            "the last backup is {} hours old ({at}, {file})",
                            age.num_hours()
                        ),
                        fix,
                    )
                }
            }
            Ok(None) => Check::fail(
                NAME,
                "no backup has been made with `switchboard backup`, and Litestream is not \
                 replicating the database",
                fix,
            ),
            Err(e) => Check::fail(
                NAME,
                format!("cannot read the backup record: {e}"),
                "See the database check.",
            ),
        }
    }

    fn disk(&self) -> Check {
        const NAME: &str = "disk space";
        let dir = &self.config.data_dir;
        let stat = match rustix::fs::statvfs(dir) {
            Ok(s) => s,
            Err(e) => {
                return Check::fail(
                    NAME,
                    format!("cannot read the free space of {}: {e}", dir.display()),
                    "Check that the data directory exists and is readable.",
                )
            }
        };
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        let total = stat.f_blocks.saturating_mul(stat.f_frsize).max(1);
        let percent = 100.0 * free as f64 / total as f64;
        let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
        let detail = format!(
            "{:.1} GiB free of {:.1} GiB ({percent:.0} %) where {} is",
            gib(free),
            gib(total),
            dir.display()
        );
        // A backup writes a whole copy of the database, and SQLite's WAL grows by up to
        // 64 MiB under load: the room needed follows the database, not the disk's size (a
        // share of a large disk is far more than needed, of a small one too little).
        let needed = room_needed(crate::db::size_on_disk(&self.config.db_path()));
        if free < needed {
            Check::fail(
                NAME,
                format!("{detail}; at least {:.1} GiB is needed", gib(needed)),
                "Free space on that filesystem (old backups, logs): SQLite refuses writes, and \
                 webhooks fail, when it is full; a backup needs room for a copy of the database.",
            )
        } else {
            Check::pass(NAME, detail)
        }
    }
}

/// The free space the disk check asks for: a copy of the database (and its WAL) for a
/// backup, and as much again to grow into; never less than [`MIN_FREE_BYTES`].
fn room_needed(database_bytes: u64) -> u64 {
    MIN_FREE_BYTES.max(database_bytes.saturating_mul(2))
}

/// What is wrong with a number's webhooks at Twilio for its handler. The IVR's number
/// sends everything here; an AI number's calls go to Vapi, its texts and status here.
fn webhook_problems(
    hooks: &NumberWebhooks,
    at_twilio: &crate::providers::IncomingNumber,
    handler: NumberHandler,
) -> Vec<String> {
    let shown = |u: &Option<String>| u.clone().unwrap_or_else(|| "(empty)".into());
    let voice_here = at_twilio.voice_url.as_deref() == Some(hooks.voice_url.as_str());
    let mut problems = Vec::new();
    match handler {
        NumberHandler::Ivr if !voice_here => problems.push(format!(
            "its Voice URL is {}, not this appliance's {}{}",
            shown(&at_twilio.voice_url),
            hooks.voice_url,
            if shown(&at_twilio.voice_url).contains("vapi") {
                " — it points at Vapi, but the number is answered by the call menu"
            } else {
                ""
            }
        )),
        NumberHandler::Vapi if voice_here => problems.push(
            "its Voice URL points here, but it is answered by the AI agent: Vapi never gets \
             its calls"
                .into(),
        ),
        _ => {}
    }
    if at_twilio.sms_url.as_deref() != Some(hooks.sms_url.as_str()) {
        problems.push(format!(
            "its Messaging URL is {}, not {}",
            shown(&at_twilio.sms_url),
            hooks.sms_url
        ));
    }
    if handler == NumberHandler::Ivr
        && at_twilio.status_callback.as_deref() != Some(hooks.status_callback.as_str())
    {
        problems.push(format!(
            "its status callback is {}, not {}",
            shown(&at_twilio.status_callback),
            hooks.status_callback
        ));
    }
    problems
}

fn clock(twilio_now: Option<chrono::DateTime<chrono::Utc>>) -> Check {
    let Some(theirs) = twilio_now else {
        return Check::skip("clock", "Twilio sent no Date header to compare with");
    };
    let skew = chrono::Utc::now()
        .signed_duration_since(theirs)
        .num_seconds();
    if skew.abs() <= CLOCK_SKEW_SECS {
        Check::pass(
            "clock",
            format!("within {} s of Twilio's", skew.abs().max(1)),
        )
    } else {
        Check::fail(
            "clock",
            format!("this host's clock is {skew} s off Twilio's"),
            "Turn on time synchronisation (systemd-timesyncd or chrony): Vapi's signatures \
             expire after 5 minutes and call times are recorded by this clock.",
        )
    }
}

/// How long ago Litestream last wrote its shadow WAL beside the database, if it runs.
fn litestream_age(db_path: &Path) -> Option<Duration> {
    let name = db_path.file_name()?.to_string_lossy();
    let shadow = db_path.with_file_name(format!(".{name}-litestream"));
    let newest = newest_mtime(&shadow, 4)?;
    newest.elapsed().ok()
}

fn newest_mtime(path: &Path, depth: u8) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let mut newest = meta.modified().ok()?;
    if meta.is_dir() && depth > 0 {
        for entry in std::fs::read_dir(path).ok()?.flatten() {
            if let Some(t) = newest_mtime(&entry.path(), depth - 1) {
                newest = newest.max(t);
            }
        }
    }
    Some(newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::IncomingNumber;

    #[test]
    fn the_room_a_disk_needs_follows_the_database_not_the_disks_size() {
        assert_eq!(room_needed(0), 1 << 30);
        assert_eq!(room_needed(200 << 20), 1 << 30);
        assert_eq!(room_needed(3 << 30), 6 << 30);
        assert_eq!(room_needed(u64::MAX), u64::MAX);
    }

    fn at_twilio(voice: &str, sms: &str, status: &str) -> IncomingNumber {
        IncomingNumber {
            sid: "PN1".into(),
            phone_number: "+15550100001".into(),
            friendly_name: None,
            voice_url: Some(voice.into()).filter(|s: &String| !s.is_empty()),
            sms_url: Some(sms.into()).filter(|s: &String| !s.is_empty()),
            status_callback: Some(status.into()).filter(|s: &String| !s.is_empty()),
        }
    }

    #[test]
    fn each_handler_wants_its_own_webhooks() {
        let hooks = NumberWebhooks::for_base("https://phones.example.com");
        let here = at_twilio(&hooks.voice_url, &hooks.sms_url, &hooks.status_callback);
        assert!(webhook_problems(&hooks, &here, NumberHandler::Ivr).is_empty());
        let vapi_here = webhook_problems(&hooks, &here, NumberHandler::Vapi);
        assert_eq!(vapi_here.len(), 1);
        assert!(vapi_here[0].contains("Vapi never gets its calls"));

        let at_vapi = at_twilio(
            "https://api.vapi.ai/twilio/inbound_call",
            &hooks.sms_url,
            "",
        );
        assert!(webhook_problems(&hooks, &at_vapi, NumberHandler::Vapi).is_empty());
        let ivr_at_vapi = webhook_problems(&hooks, &at_vapi, NumberHandler::Ivr);
        assert!(
            ivr_at_vapi[0].contains("it points at Vapi"),
            "{ivr_at_vapi:?}"
        );
        assert!(ivr_at_vapi[1].contains("status callback is (empty)"));

        let elsewhere = at_twilio("https://old.example.com/voice", "", &hooks.status_callback);
        let found = webhook_problems(&hooks, &elsewhere, NumberHandler::Ivr);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].contains("Messaging URL is (empty)"));
    }

    #[test]
    fn the_clock_may_be_a_little_off_but_not_more() {
        let now = chrono::Utc::now();
        assert_eq!(clock(Some(now)).verdict, Verdict::Pass);
        assert_eq!(
            clock(Some(now - chrono::Duration::seconds(CLOCK_SKEW_SECS - 2))).verdict,
            Verdict::Pass
        );
        let off = clock(Some(now + chrono::Duration::seconds(300)));
        assert_eq!(off.verdict, Verdict::Fail);
        assert!(off.detail.contains("off Twilio's"));
        assert_eq!(clock(None).verdict, Verdict::Skip);
    }

    #[test]
    fn only_a_failure_fails() {
        let checks = vec![Check::pass("a", "ok"), Check::skip("b", "n/a")];
        assert!(all_pass(&checks));
        let mut with_failure = checks;
        with_failure.push(Check::fail("c", "bad", "fix it"));
        assert!(!all_pass(&with_failure));
    }

    #[test]
    fn litestream_is_seen_by_its_shadow_directory_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("switchboard.db");
        assert!(litestream_age(&db).is_none());
        let shadow = dir
            .path()
            .join(".switchboard.db-litestream/generations/abc/wal");
        std::fs::create_dir_all(&shadow).unwrap();
        std::fs::write(shadow.join("00000001.wal"), b"x").unwrap();
        assert!(litestream_age(&db).unwrap() < Duration::from_secs(60));
    }
}
