//! `switchboard simulate` (SPEC §9.2): plays Twilio or Vapi against an appliance over
//! real HTTP with real signatures, through [`crate::simulator`].

use super::admin::as_served;
use super::number::master;
use super::{fail, CliError};
use crate::config::Config;
use crate::simulator::{
    CallPlan, CallbackPlan, DialOutcome, Hop, LoadPlan, ScreenAnswer, Sequence, SimError,
    Simulator, Target,
};
use rusqlite::OptionalExtension;

/// What a simulated call does, from the command line.
pub struct CallArgs<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub digits: &'a [String],
    pub dial: &'a str,
    pub screen: &'a [String],
    pub voicemail: Option<&'a str>,
    pub hangup_after: Option<u32>,
}

impl CallArgs<'_> {
    fn plan(&self) -> Result<CallPlan, CliError> {
        let mut plan = CallPlan::new(self.from, self.to);
        plan.digits = self.digits.to_vec();
        plan.dial = DialOutcome::parse(self.dial).map_err(fail)?;
        plan.screen = self
            .screen
            .iter()
            .map(|s| ScreenAnswer::parse(s))
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        plan.voicemail = self.voicemail.map(str::to_string);
        plan.hangup_after = self.hangup_after;
        Ok(plan)
    }
}

/// The appliance to play against: `--url`, or this host's configured listen address;
/// signed for `PUBLIC_URL` when one is configured, with the configured credentials or,
/// in a demo data dir, the demo's sandbox ones.
fn simulator(config: &Config, url: Option<&str>) -> Result<Simulator, CliError> {
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => config.local_base_url(),
    };
    let (served, _) = as_served(config);
    let twilio = master(&served).map(|m| (m.account_sid, m.auth_token));
    let vapi_secret = served
        .vapi_webhook_secret
        .as_ref()
        .map(|s| s.expose().to_string());
    Simulator::new(Target {
        signed_base: config.public_url.clone().unwrap_or_else(|| base.clone()),
        base,
        twilio,
        vapi_secret,
    })
    .map_err(fail)
}

/// Turns "did not answer" into advice.
fn explain(e: SimError) -> CliError {
    match e {
        SimError::Transport { .. } => fail(format!(
            "{e}\nIs `switchboard serve` running? Use --url to play against another address."
        )),
        SimError::Setup(_) => fail(e),
    }
}

fn print_hop(hop: &Hop) {
    println!("{hop}");
}

pub async fn call(config: &Config, url: Option<&str>, args: CallArgs<'_>) -> Result<(), CliError> {
    let sim = simulator(config, url)?;
    let plan = args.plan()?;
    println!(
        "A call from {} to {} through {}",
        plan.from,
        plan.to,
        sim.target().base
    );
    println!();
    let report = sim.call(&plan, print_hop).await.map_err(explain)?;
    println!(
        "Call {} ended after {} s ({}): {} webhooks, {} errors.",
        report.call_sid,
        report.duration_secs,
        report.status,
        report.hops.len(),
        report.errors.len()
    );
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(fail(report.errors.join("\n")))
    }
}

pub async fn sms(
    config: &Config,
    url: Option<&str>,
    from: &str,
    to: &str,
    body: &str,
) -> Result<(), CliError> {
    let sim = simulator(config, url)?;
    let hop = sim.sms(from, to, body).await.map_err(explain)?;
    print_hop(&hop);
    if hop.answer.status == 200 {
        Ok(())
    } else {
        Err(fail(format!(
            "{} answered HTTP {}",
            hop.path, hop.answer.status
        )))
    }
}

/// What `simulate callback` plays.
pub struct CallbackArgs<'a> {
    pub id: Option<i64>,
    pub answered_by: &'a str,
    pub customer: &'a str,
    pub seconds: u32,
}

/// The callback to play, read from the data dir: `id`, or the latest still ringing.
fn pending_callback(config: &Config, id: Option<i64>) -> Result<CallbackPlan, CliError> {
    let conn = rusqlite::Connection::open_with_flags(
        config.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(|e| fail(format!("cannot read {}: {e}", config.db_path().display())))?;
    let found = conn
        .query_row(
            "SELECT id, call_sid, business_number, user_mobile FROM callbacks
             WHERE call_sid IS NOT NULL AND (?1 IS NULL AND user_status = 'ringing' OR id = ?1)
             ORDER BY id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(fail)?;
    let Some((id, call_sid, from, to)) = found else {
        return Err(fail(match id {
            Some(id) => format!("callback {id} does not exist or Twilio never placed it"),
            None => "no callback is ringing: press \"Call back from the business line\" in the dashboard first".into(),
        }));
    };
    Ok(CallbackPlan {
        id,
        call_sid,
        from,
        to,
        answered_by: String::new(),
        customer: String::new(),
        seconds: 0,
    })
}

pub async fn callback(
    config: &Config,
    url: Option<&str>,
    args: CallbackArgs<'_>,
) -> Result<(), CliError> {
    let mut plan = pending_callback(config, args.id)?;
    plan.answered_by = match args.answered_by {
        "machine" => "machine_start".into(),
        _ => "human".into(),
    };
    plan.customer = args.customer.to_string();
    plan.seconds = args.seconds;
    let sim = simulator(config, url)?;
    println!(
        "Callback {}: Twilio rings {} from {} and plays it to {}",
        plan.id,
        plan.to,
        plan.from,
        sim.target().base
    );
    let hops = sim.callback(&plan).await.map_err(explain)?;
    for hop in &hops {
        print_hop(hop);
    }
    match hops.iter().find(|h| h.answer.status != 200) {
        Some(h) => Err(fail(format!(
            "{} answered HTTP {}",
            h.path, h.answer.status
        ))),
        None => Ok(()),
    }
}

pub async fn vapi(
    config: &Config,
    url: Option<&str>,
    to: &str,
    from: &str,
    sequence: &str,
) -> Result<(), CliError> {
    let sequence = Sequence::parse(sequence).map_err(fail)?;
    let sim = simulator(config, url)?;
    println!(
        "An AI call from {from} to {to} as Vapi reports it ({sequence:?}) to {}",
        sim.target().base
    );
    println!();
    let hops = sim
        .vapi_call(to, from, sequence, print_hop)
        .await
        .map_err(explain)?;
    let failed = hops.iter().filter(|h| h.answer.status != 200).count();
    if failed == 0 {
        println!("{} deliveries, all accepted.", hops.len());
        Ok(())
    } else {
        Err(fail(format!(
            "{failed} of {} deliveries were not accepted",
            hops.len()
        )))
    }
}

pub async fn load(
    config: &Config,
    url: Option<&str>,
    args: CallArgs<'_>,
    calls: usize,
    concurrency: usize,
) -> Result<(), CliError> {
    let sim = simulator(config, url)?;
    let plan = LoadPlan {
        calls,
        concurrency,
        call: args.plan()?,
    };
    println!(
        "{calls} calls to {} through {}, {concurrency} at a time…",
        plan.call.to,
        sim.target().base
    );
    let report = sim.load(&plan).await.map_err(explain)?;
    println!("{report}");
    if report.failed_calls == 0 {
        Ok(())
    } else {
        Err(fail(format!("{} calls failed", report.failed_calls)))
    }
}
