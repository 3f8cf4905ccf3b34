//! Command-line interface: every operator action is a subcommand (SPEC §1).

mod admin;
mod block;
mod doctor;
mod number;
mod serve;
mod simulate;
mod user;

use crate::config::{Config, ConfigError, Sources};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A complete phone front desk on Twilio and Vapi, in one binary."
)]
pub struct Cli {
    /// Read SWITCHBOARD_* settings from this KEY=VALUE file (the environment overrides it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database, secret key, backups). Overrides SWITCHBOARD_DATA_DIR.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the webhooks, API and dashboard.
    Serve {
        /// Try it without accounts: sandbox providers and a demo business.
        #[arg(long)]
        demo: bool,
        /// Listen address. Overrides SWITCHBOARD_LISTEN.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Serve HTTPS for this name with a certificate from Let's Encrypt (repeatable).
        /// Overrides SWITCHBOARD_DOMAINS.
        #[arg(long = "domain", value_name = "NAME")]
        domains: Vec<String>,
    },
    /// Apply database migrations and exit (serve does this too).
    Migrate,
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a consistent copy of the database to FILE (safe while serving).
    Backup {
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the database with FILE after checking its integrity and schema version.
    Restore { file: PathBuf },
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Bring, list, change and release phone numbers (needs Twilio credentials and PUBLIC_URL).
    #[command(subcommand)]
    Number(NumberCommand),
    /// Add and list AI agents (Vapi assistants).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Block callers and senders (a number, or every number with a prefix), unblock, list.
    #[command(subcommand)]
    Block(BlockCommand),
    /// Check the whole installation (configuration, database, PUBLIC_URL, Twilio, every
    /// number's webhooks, Vapi, clock, backups, disk); exit 0 only when nothing fails.
    Doctor,
    /// Play Twilio or Vapi against the appliance over real HTTP, with real signatures.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Exit 0 if the local appliance answers /healthz.
    Healthcheck {
        /// Base URL to check instead of the configured listen address.
        #[arg(long)]
        url: Option<String>,
    },
}

/// What a simulated caller does (shared by `simulate call` and `simulate load`).
#[derive(Debug, clap::Args)]
pub struct CallerArgs {
    /// The number called, in E.164 form (e.g. +15550100001 in the demo).
    #[arg(long)]
    pub to: String,
    /// The caller's number.
    #[arg(long, default_value = "+14155550100")]
    pub from: String,
    /// Keys to press at each menu in turn, comma-separated (e.g. 9, or 1,2); an empty
    /// entry, or running out, lets that menu time out.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub digits: Vec<String>,
    /// How a transfer ends (the DialCallStatus Twilio reports).
    #[arg(long, default_value = "no-answer", value_parser = ["completed", "busy", "no-answer", "failed"])]
    pub dial: String,
    /// At each screened transfer in turn, a phone answers and its person does this:
    /// accept (presses 1), decline (presses 2) or silent (a voicemail picked up),
    /// comma-separated for successive transfers (the last repeats).
    #[arg(long, value_delimiter = ',', value_parser = ["accept", "decline", "silent"])]
    pub screen: Vec<String>,
    /// What the caller says at the voicemail beep (without it, they hang up at the beep).
    #[arg(long, value_name = "TEXT")]
    pub voicemail: Option<String>,
    /// The caller hangs up after this many seconds of call time.
    #[arg(long, value_name = "S")]
    pub hangup_after: Option<u32>,
}

impl CallerArgs {
    fn as_call(&self) -> simulate::CallArgs<'_> {
        simulate::CallArgs {
            to: &self.to,
            from: &self.from,
            digits: &self.digits,
            dial: &self.dial,
            screen: &self.screen,
            voicemail: self.voicemail.as_deref(),
            hangup_after: self.hangup_after,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// A whole call: follows the TwiML hop by hop and prints each request and answer.
    Call {
        #[command(flatten)]
        caller: CallerArgs,
        /// The appliance's base URL (default: this host's SWITCHBOARD_LISTEN).
        #[arg(long)]
        url: Option<String>,
    },
    /// A customer's text to one of the numbers.
    Sms {
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "+14155550100")]
        from: String,
        #[arg(long)]
        body: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// One AI-answered call's Vapi events, in order, shuffled or each delivered twice.
    Vapi {
        /// The AI-handled number called.
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "+14155550100")]
        from: String,
        #[arg(long, default_value = "in-order", value_parser = ["in-order", "shuffled", "duplicated"])]
        sequence: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Twilio's side of a "Call back" placed from the dashboard: the user's phone answers
    /// (or its voicemail does), the customer is dialled, the call ends.
    Callback {
        /// Which callback (default: the latest one still ringing the user's phone).
        #[arg(long)]
        id: Option<i64>,
        /// Who picks up the user's phone: a person, or a voicemail greeting.
        #[arg(long, default_value = "human", value_parser = ["human", "machine"])]
        answered_by: String,
        /// How the dial to the customer ends (Twilio's DialCallStatus).
        #[arg(long, default_value = "completed", value_parser = ["completed", "busy", "no-answer", "failed"])]
        customer: String,
        /// Seconds the customer talks when they answer.
        #[arg(long, default_value_t = 60)]
        seconds: u32,
        #[arg(long)]
        url: Option<String>,
    },
    /// Many whole calls at once: throughput, p50/p99 latency and errors.
    Load {
        #[command(flatten)]
        caller: CallerArgs,
        #[arg(long, default_value_t = 100)]
        calls: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints a generated password unless --password-stdin is given.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["owner", "admin", "viewer"])]
        role: String,
        /// The organization; created if it does not exist. Optional when there is one org.
        #[arg(long)]
        org: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Also make them a system administrator (see `user system-admin`).
        #[arg(long)]
        system_admin: bool,
    },
    /// Make a user a system administrator of the appliance, or no longer one (--off):
    /// they change feature flags for every organization, and see the monitoring rows
    /// that belong to none (rate limits, webhooks no number answered) when the appliance
    /// holds several organizations.
    SystemAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        off: bool,
    },
    /// Set a new password (generated unless --password-stdin) and sign the user out everywhere.
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Turn two-factor sign-in off for a user who lost their phone and recovery codes
    /// (audited; signs them out everywhere).
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum NumberCommand {
    /// Take over a number the Twilio account owns (without a number: list the candidates).
    Import {
        /// The number in E.164 form, e.g. +14155550123.
        e164: Option<String>,
        #[arg(long, default_value = "operational", value_parser = ["operational", "onboarding", "system"])]
        role: String,
        #[arg(long, default_value = "ivr", value_parser = ["ivr", "vapi"])]
        handler: String,
        /// The agent (by name) that answers it when the handler is vapi.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// List the organization's numbers.
    List {
        /// Include released numbers.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        org: Option<String>,
    },
    /// Change a number's role, handler, agent or name.
    Set {
        e164: String,
        #[arg(long, value_parser = ["operational", "onboarding", "system"])]
        role: Option<String>,
        #[arg(long, value_parser = ["ivr", "vapi"])]
        handler: Option<String>,
        #[arg(long, conflicts_with = "no_agent")]
        agent: Option<String>,
        /// Unlink the agent.
        #[arg(long)]
        no_agent: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Release a number (a bought one goes back to Twilio; an imported one stays yours).
    Release {
        e164: String,
        /// Print what would happen, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Block a number (--number +14155550123) or every number with a prefix (--prefix +1900).
    Add {
        #[arg(long, conflicts_with = "prefix")]
        number: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        /// Why, for whoever reads the list later.
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Unblock a number or a prefix.
    Remove {
        #[arg(long, conflicts_with = "prefix")]
        number: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// List what is blocked.
    List {
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Add an agent.
    Add {
        #[arg(long)]
        name: String,
        /// The Vapi assistant id.
        #[arg(long)]
        assistant_id: Option<String>,
        /// A SIP URI the call menu can hand callers to.
        #[arg(long)]
        sip_uri: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// List the agents and the numbers they answer.
    List {
        #[arg(long)]
        org: Option<String>,
    },
}

/// How a command failed, mapped to the process exit code by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 78 (EX_CONFIG): systemd can be told not to restart on it.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Failed(String),
    /// A number operation failed; `exit` says how (`TelephonyError::exit_code`).
    #[error("{message}")]
    Number { message: String, exit: i32 },
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) => 78,
            CliError::Failed(_) => 1,
            CliError::Number { exit, .. } => *exit,
        }
    }
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The database of the configured data dir, migrated.
fn open_db(config: &Config) -> Result<crate::db::Db, CliError> {
    crate::db::Db::open(&config.db_path(), &config.backups_dir())
        .map(|(db, _)| db)
        .map_err(fail)
}

impl Cli {
    /// Builds the configuration: file, then environment, then flags.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let mut overrides = Vec::new();
        if let Some(dir) = &self.data_dir {
            overrides.push((
                "SWITCHBOARD_DATA_DIR".to_string(),
                dir.display().to_string(),
            ));
        }
        if let Command::Serve {
            demo,
            listen,
            domains,
        } = &self.command
        {
            if !domains.is_empty() {
                overrides.push(("SWITCHBOARD_DOMAINS".to_string(), domains.join(",")));
            }
            if *demo {
                overrides.push(("SWITCHBOARD_DEMO".to_string(), "true".to_string()));
            }
            if let Some(listen) = listen {
                overrides.push(("SWITCHBOARD_LISTEN".to_string(), listen.clone()));
            }
        }
        let sources = Sources::gather(self.config.as_deref(), std::env::vars(), overrides)?;
        Config::from_sources(&sources)
    }
}

/// Runs a parsed command with a loaded configuration.
pub async fn run(cli: Cli, config: Config) -> Result<(), CliError> {
    match cli.command {
        Command::Serve { .. } => serve::run(config).await,
        Command::Migrate => admin::migrate(&config),
        Command::User(UserCommand::Add {
            email,
            role,
            org,
            password_stdin,
            system_admin,
        }) => user::add(
            &config,
            &email,
            &role,
            org.as_deref(),
            password_stdin,
            system_admin,
        ),
        Command::User(UserCommand::SystemAdmin { email, off }) => {
            user::system_admin(&config, &email, !off)
        }
        Command::User(UserCommand::ResetPassword {
            email,
            password_stdin,
        }) => user::reset_password(&config, &email, password_stdin),
        Command::User(UserCommand::ResetTwoFactor { email }) => {
            user::reset_two_factor(&config, &email)
        }
        Command::Backup { file, force } => admin::backup(&config, &file, force),
        Command::Restore { file } => admin::restore(&config, &file),
        Command::Config => admin::show_config(&config),
        Command::Number(cmd) => match cmd {
            NumberCommand::Import {
                e164,
                role,
                handler,
                agent,
                name,
                org,
            } => {
                number::import(
                    &config,
                    number::ImportArgs {
                        e164: e164.as_deref(),
                        role: &role,
                        handler: &handler,
                        agent: agent.as_deref(),
                        name: name.as_deref(),
                        org: org.as_deref(),
                    },
                )
                .await
            }
            NumberCommand::List { all, org } => number::list(&config, org.as_deref(), all),
            NumberCommand::Set {
                e164,
                role,
                handler,
                agent,
                no_agent,
                name,
                org,
            } => {
                number::set(
                    &config,
                    number::SetArgs {
                        e164: &e164,
                        role: role.as_deref(),
                        handler: handler.as_deref(),
                        agent: agent.as_deref(),
                        no_agent,
                        name: name.as_deref(),
                        org: org.as_deref(),
                    },
                )
                .await
            }
            NumberCommand::Release { e164, dry_run, org } => {
                number::release(&config, &e164, dry_run, org.as_deref()).await
            }
        },
        Command::Agent(AgentCommand::Add {
            name,
            assistant_id,
            sip_uri,
            org,
        }) => number::agent_add(
            &config,
            &name,
            assistant_id.as_deref(),
            sip_uri.as_deref(),
            org.as_deref(),
        ),
        Command::Agent(AgentCommand::List { org }) => number::agent_list(&config, org.as_deref()),
        Command::Block(BlockCommand::Add {
            number,
            prefix,
            note,
            org,
        }) => block::add(
            &config,
            number.as_deref(),
            prefix.as_deref(),
            &note,
            org.as_deref(),
        ),
        Command::Block(BlockCommand::Remove {
            number,
            prefix,
            org,
        }) => block::remove(
            &config,
            number.as_deref(),
            prefix.as_deref(),
            org.as_deref(),
        ),
        Command::Block(BlockCommand::List { org }) => block::list(&config, org.as_deref()),
        Command::Doctor => doctor::run(&config).await,
        Command::Simulate(cmd) => match cmd {
            SimulateCommand::Call { caller, url } => {
                simulate::call(&config, url.as_deref(), caller.as_call()).await
            }
            SimulateCommand::Sms {
                to,
                from,
                body,
                url,
            } => simulate::sms(&config, url.as_deref(), &from, &to, &body).await,
            SimulateCommand::Callback {
                id,
                answered_by,
                customer,
                seconds,
                url,
            } => {
                let args = simulate::CallbackArgs {
                    id,
                    answered_by: &answered_by,
                    customer: &customer,
                    seconds,
                };
                simulate::callback(&config, url.as_deref(), args).await
            }
            SimulateCommand::Vapi {
                to,
                from,
                sequence,
                url,
            } => simulate::vapi(&config, url.as_deref(), &to, &from, &sequence).await,
            SimulateCommand::Load {
                caller,
                calls,
                concurrency,
                url,
            } => {
                simulate::load(
                    &config,
                    url.as_deref(),
                    caller.as_call(),
                    calls,
                    concurrency,
                )
                .await
            }
        },
        Command::Healthcheck { url } => admin::healthcheck(&config, url.as_deref()).await,
    }
}
