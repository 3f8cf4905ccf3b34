//! `switchboard serve`: start the appliance and print where everything is.

use super::{fail, CliError};
use crate::config::Config;
use crate::domain::webhook::{TwilioRoute, VAPI_WEBHOOK};
use crate::startup::{Application, StartupError};

pub async fn run(config: Config) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let app = Application::build(config).await.map_err(|e| match e {
        StartupError::Config(c) => CliError::Config(c),
        other => fail(other),
    })?;
    print_banner(&app, started.elapsed());
    app.run_until_stopped().await.map_err(fail)
}

fn print_banner(app: &Application, startup: std::time::Duration) {
    let state = app.state();
    let mode = if state.providers.sandbox {
        " — SANDBOX (demo: sandbox providers, no real calls or texts)"
    } else {
        ""
    };
    println!("switchboard {}{mode}", crate::VERSION);
    println!("  dashboard:     {}/", app.local_url());
    println!("  public URL:    {}", state.public_url);
    if let (Some(tls), Some(certs)) = (&state.config.tls, &state.tls) {
        let certificate = match certs.info() {
            Some(info) => format!(
                "{} until {}",
                info.issuer,
                info.not_after.format("%Y-%m-%d")
            ),
            None => "being ordered (see the log, /api/health or `switchboard doctor`)".into(),
        };
        println!(
            "  https:         {} (certificate: {certificate}); http {} answers ACME and redirects",
            tls.https_listen, tls.http_listen
        );
    }
    let base = &state.public_url;
    println!(
        "  Twilio voice:  {}   (status callback {})",
        TwilioRoute::Voice.url(base),
        TwilioRoute::VoiceStatus.url(base)
    );
    println!("  Twilio SMS:    {}", TwilioRoute::Sms.url(base));
    println!("  Vapi server:   {base}{VAPI_WEBHOOK}");
    println!("  database:      {}", state.config.db_path().display());
    if let Some(backup) = &app.migrations.backup {
        println!(
            "  migrated v{} → v{} (backup first: {})",
            app.migrations.from,
            app.migrations.to,
            backup.display()
        );
    }
    println!("  ready in {} ms", startup.as_millis());
    if let Some(demo) = &app.demo {
        println!();
        println!(
            "  Demo business \"{}\": try {} (menu), {} (onboarding, text only),",
            crate::demo::DEMO_ORG,
            crate::demo::DEMO_NUMBERS[0].0,
            crate::demo::DEMO_NUMBERS[1].0
        );
        println!(
            "  {} (system), {} (AI agent). Sandbox Twilio account: {}",
            crate::demo::DEMO_NUMBERS[2].0,
            crate::demo::DEMO_NUMBERS[3].0,
            demo.twilio.account_sid
        );
        if let Some((email, password)) = &demo.new_owner {
            println!();
            println!(
                "  First start: an owner account was created. Sign in at {}/ with",
                app.local_url()
            );
            println!("    email:    {email}");
            println!("    password: {password}");
            println!("  The password is shown only this once. Forgot it? `switchboard user reset-password --email {email}`");
        }
    }
    for warning in state.config.warnings() {
        println!("  warning: {warning}");
    }
}
