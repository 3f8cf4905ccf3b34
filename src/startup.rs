//! `Application::build` opens the data dir, migrates, prepares providers (and the demo),
//! binds the listener itself so port 0 works in tests, and `run_until_stopped` serves until
//! SIGINT/SIGTERM, letting in-flight requests finish.

use crate::accounts::TwilioAccounts;
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::crypto::{CryptoError, SecretKey};
use crate::db::{migrations, Db, DbError};
use crate::demo::{self, DemoError, DemoSetup};
use crate::frontdesk::messaging::Messenger;
use crate::frontdesk::FrontDesk;
use crate::http::{self, AppState};
use crate::providers::sandbox::{SandboxTwilio, SandboxVapi};
use crate::providers::{Providers, TwilioCreds};
use crate::ratelimit::{self, RateLimits};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("cannot listen on {addr}: {source} (is another process using the port? set SWITCHBOARD_LISTEN)")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the HTTP server: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTPS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("web push: {0}")]
    Push(#[from] crate::frontdesk::push::PushKeyError),
}

/// Sandbox handles, for tests and the demo banner.
pub struct Sandbox {
    pub twilio: Arc<SandboxTwilio>,
    pub vapi: Arc<SandboxVapi>,
}

pub struct Application {
    port: u16,
    server: Server,
    /// Sends the queued email notices, when SMTP is configured (SPEC §12).
    mailer: Option<crate::frontdesk::mail::Mailer>,
    /// Built-in HTTPS (SPEC §14): the plain-HTTP side, and what keeps the certificate fresh.
    https: Option<Https>,
    state: web::Data<AppState>,
    pub migrations: migrations::Report,
    pub demo: Option<DemoSetup>,
    pub sandbox: Option<Sandbox>,
}

/// The appliance key: `SWITCHBOARD_SECRET_KEY`, or `data/secret.key` (created on first use).
pub fn secret_key(config: &Config) -> Result<SecretKey, StartupError> {
    match &config.secret_key {
        Some(k) => SecretKey::from_base64(k.expose()).map_err(|p| {
            ConfigError {
                var: "SWITCHBOARD_SECRET_KEY".into(),
                problem: p,
            }
            .into()
        }),
        None => {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| DbError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
            Ok(SecretKey::load_or_create(&config.data_dir)?)
        }
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        config.check_for_serve()?;
        let secret_key = secret_key(&config)?;
        let (db, report) = Db::open_with(
            &config.db_path(),
            &config.backups_dir(),
            config.wal_checkpoints,
        )?;
        let listener = TcpListener::bind(config.listen).map_err(|source| StartupError::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
        let port = listener.local_addr()?.port();
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| crate::config::local_url(config.listen, port));

        let Wired {
            providers,
            sandbox,
            demo,
            master: twilio_master,
            vapi_secret: vapi_webhook_secret,
        } = wire(&config, &db, &secret_key, &public_url)?;

        let vapi_ready = providers.sandbox || config.vapi_api_key.is_some();
        let accounts = TwilioAccounts::new(twilio_master, secret_key.clone());
        let telephony = crate::telephony::Telephony::new(
            db.clone(),
            providers.clone(),
            accounts.clone(),
            public_url.clone(),
            vapi_ready,
        );
        // A crash mid-saga is finished before the first request (SPEC §5.3).
        telephony.recover().await;
        warn_about_orgs(&db);
        let mailer = match &config.smtp {
            Some(smtp) => Some(crate::frontdesk::mail::Mailer::new(smtp)?),
            None => None,
        };
        let pusher = Arc::new(crate::frontdesk::push::Pusher::load_or_create(
            &*db.conn()?,
            &secret_key,
            push_contact(&config, &public_url),
            config.push_allow_http,
        )?);
        let desk = Arc::new(front_desk(
            &config,
            &db,
            providers.twilio.clone(),
            accounts.clone(),
            &secret_key,
            &public_url,
            mailer.is_some(),
        ));
        let https = match &config.tls {
            Some(tls) => Some(Https::prepare(tls, &config.data_dir, &public_url)?),
            None => None,
        };
        let live = crate::live::Live::start(db.clone(), desk.webhooks.clone());
        let state = Arc::new(AppState {
            telephony,
            rate_limits: Arc::new(RateLimits::new(&config.rate_limits)),
            passwords: crate::passwords::PasswordHasher::start(&config.password_hashing)?,
            config: Arc::new(config),
            db: db.clone(),
            providers,
            accounts,
            vapi_webhook_secret,
            ledger: crate::db::ledger::Ledger::new(db.clone()),
            public_url,
            started_at: Instant::now(),
            desk,
            tls: https.as_ref().map(|h| h.certs.clone()),
            live,
            pusher,
        });
        let state = web::Data::from(state);
        let server = server(state.clone(), listener, https.as_ref())?;
        Ok(Application {
            port,
            server,
            mailer,
            https,
            state,
            migrations: report,
            demo,
            sandbox,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The ports of the built-in HTTPS and its plain-HTTP side, when they are on.
    pub fn https_ports(&self) -> Option<(u16, u16)> {
        self.https.as_ref().map(Https::ports)
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The dashboard URL (the local address, reachable from this host).
    pub fn local_url(&self) -> String {
        crate::config::local_url(self.state.config.listen, self.port)
    }

    /// Serves until SIGINT/SIGTERM (actix-web lets in-flight requests finish, up to 10 s),
    /// running periodic maintenance meanwhile; flushes pending rate-limit aggregates at the end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let maintenance = tokio::spawn(maintenance(self.state.clone()));
        let desk = self.state.desk.clone();
        let wake = desk.notices.clone();
        let webhooks = tokio::spawn(crate::frontdesk::webhooks::run(desk.clone()));
        let notices = tokio::spawn(crate::frontdesk::notices::run(
            desk,
            self.mailer,
            self.state.pusher.clone(),
            wake,
        ));
        let https = match self.https {
            Some(h) => Some(h.start()?),
            None => None,
        };
        // Open live-update streams end at the first SIGINT/SIGTERM, so the graceful
        // shutdown is not held up by browsers that simply reconnect to the next start.
        let live = self.state.live.clone();
        let closer = tokio::spawn(async move {
            stop_signal().await;
            live.close();
        });
        let result = self.server.await;
        closer.abort();
        maintenance.abort();
        notices.abort();
        webhooks.abort();
        if let Some(running) = https {
            running.stop().await;
        }
        flush_violations(&self.state).await;
        self.state.ledger.flush().await;
        log::info!("switchboard stopped");
        result
    }
}

/// Who a push service can reach about this appliance's pushes (VAPID `sub`): the email
/// sender when there is one, else the public URL.
fn push_contact(config: &Config, public_url: &str) -> String {
    match &config.smtp {
        Some(smtp) => format!(
            "mailto:{}",
            smtp.from
                .rsplit_once('<')
                .map_or(smtp.from.as_str(), |(_, a)| a.trim_end_matches('>'))
        ),
        None => public_url.to_string(),
    }
}

/// The sandbox keeps no state across restarts: register the numbers and accounts the
/// database knows, so a restarted demo behaves like the same Twilio/Vapi account.
fn adopt_into_sandbox(
    db: &Db,
    key: &SecretKey,
    sandbox: &Sandbox,
    master: &TwilioCreds,
    public_url: &str,
) -> Result<(), StartupError> {
    let conn = db.conn()?;
    let sids =
        crate::db::provider_accounts::active_subaccount_sids(&conn).map_err(DbError::from)?;
    for sid in sids {
        if let Some(token) = crate::db::provider_accounts::secret(&conn, key, "twilio", &sid)
            .map_err(|e| DbError::Invalid(e.to_string()))?
        {
            sandbox.twilio.adopt_account(&sid, &token);
        }
    }
    let rows = crate::db::numbers::provider_links(&conn).map_err(DbError::from)?;
    for (e164, twilio_sid, account, vapi_id, assistant) in rows {
        if let Some(sid) = twilio_sid {
            sandbox.twilio.adopt_number(
                account.as_deref().unwrap_or(&master.account_sid),
                &sid,
                &e164,
                public_url,
            );
        }
        if let Some(id) = vapi_id {
            sandbox.vapi.adopt_number(&id, &e164, assistant.as_deref());
            // Vapi took the number's calls when it was imported.
            sandbox
                .twilio
                .point_voice_at(&e164, crate::providers::sandbox::VAPI_TWILIO_VOICE_URL);
        }
    }
    Ok(())
}

/// Says at start-up what keeps an org from answering calls (also in `/api/health`).
fn warn_about_orgs(db: &Db) {
    let Ok(conn) = db.conn() else { return };
    let Ok(orgs) = crate::db::orgs::list(&conn) else {
        return;
    };
    for org in orgs {
        match crate::doctor::warnings::with_warnings(&conn, org.id) {
            Ok(found) => found
                .into_iter()
                .flat_map(|(_, w)| w)
                .for_each(|w| log::warn!("{w}")),
            Err(e) => log::warn!("cannot check the settings of org {}: {e}", org.id),
        }
    }
}

async fn maintenance(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(ratelimit::MAINTENANCE_INTERVAL);
    let mut runs: u64 = 0;
    loop {
        tick.tick().await;
        runs += 1;
        state.rate_limits.retain_recent();
        flush_violations(&state).await;
        crate::frontdesk::sweep(&state.desk, state.desk.clock.now()).await;
        // Roughly hourly: expired sessions, and rows past their retention (SPEC §9.4).
        if runs % 360 == 1 {
            let pruned = match state
                .db
                .query(|c| crate::db::sessions::purge_expired(c))
                .await
            {
                Ok(_) => crate::db::ledger::prune(&state.db).await,
                Err(e) => Err(e),
            };
            if let Err(e) = pruned {
                log::warn!("pruning expired rows failed: {e}");
            }
            // Recordings and transcripts past each org's retention (SPEC §13).
            match crate::frontdesk::recordings::purge_expired(&state.desk, state.desk.clock.now())
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    log::info!("retention: {n} voicemails' recordings and transcripts deleted")
                }
                Err(e) => log::warn!("the recording retention failed: {e}"),
            }
        }
    }
}

/// Writes the aggregated rate-limit violations collected since the last flush.
pub async fn flush_violations(state: &AppState) {
    let pending = state.rate_limits.take_violations();
    if pending.is_empty() {
        return;
    }
    let count = pending.len();
    let result = state
        .db
        .run(move |c| crate::db::violations::flush(c, &pending).map_err(DbError::from))
        .await;
    if let Err(e) = result {
        log::warn!("could not store {count} rate-limit violation aggregates: {e}");
    }
}

/// How long graceful shutdown waits for in-flight requests.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP server (and the HTTPS listener, when it is on), started.
fn server(
    state: web::Data<AppState>,
    listener: TcpListener,
    https: Option<&Https>,
) -> Result<Server, StartupError> {
    // One for all workers: `/readyz` probes the database at most once per interval.
    let readiness = web::Data::new(http::health::Readiness::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(readiness.clone())
            .wrap(http::security_headers())
            .wrap(from_fn(http::log_request))
            .configure(http::routes)
    })
    .listen(listener)?;
    let server = match https {
        Some(h) => {
            server.listen_rustls_0_23(h.https_listener.try_clone()?, h.certs.server_config()?)?
        }
        None => server,
    };
    Ok(server.shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs()).run())
}

/// The front desk: calls and texts, on the given database, providers and accounts.
fn front_desk(
    config: &Config,
    db: &Db,
    twilio: Arc<dyn crate::providers::TwilioApi>,
    accounts: TwilioAccounts,
    secret_key: &SecretKey,
    public_url: &str,
    has_mailer: bool,
) -> FrontDesk {
    FrontDesk {
        db: db.clone(),
        flags: Arc::default(),
        flows: Arc::default(),
        messenger: Messenger { twilio, accounts },
        metrics: Arc::default(),
        clock: Clock::default(),
        public_url: public_url.to_string(),
        transcript_wait_secs: config.transcript_wait_secs,
        textback_delay_secs: config.textback_delay_secs,
        notices: Arc::new(tokio::sync::Notify::new()),
        webhooks: Arc::new(tokio::sync::Notify::new()),
        senders: crate::db::outbox::Senders {
            email: has_mailer,
            push: true,
        },
        webhooks_allow_private: config.webhooks_allow_private,
        secret_key: secret_key.clone(),
    }
}

/// The providers the appliance talks to and the secrets that authenticate them.
struct Wired {
    providers: Providers,
    sandbox: Option<Sandbox>,
    demo: Option<DemoSetup>,
    master: Option<TwilioCreds>,
    vapi_secret: Option<String>,
}

/// In a demo: the sandbox, with the demo's accounts and numbers. Otherwise the real APIs
/// with the configured credentials (and a refusal to serve a demo's database).
fn wire(
    config: &Config,
    db: &Db,
    secret_key: &SecretKey,
    public_url: &str,
) -> Result<Wired, StartupError> {
    if config.demo {
        let setup = demo::prepare(&mut *db.conn()?, secret_key, config)?;
        let (providers, twilio, vapi) = Providers::sandbox(setup.twilio.clone());
        let sandbox = Sandbox { twilio, vapi };
        adopt_into_sandbox(db, secret_key, &sandbox, &setup.twilio, public_url)?;
        for number in demo::DEMO_IMPORTABLE {
            sandbox.twilio.add_owned_number(
                &setup.twilio.account_sid,
                number,
                demo::DEMO_PREVIOUS_WEBHOOK,
            );
        }
        let (master, vapi_secret) = (setup.twilio.clone(), setup.vapi_webhook_secret.clone());
        return Ok(Wired {
            providers,
            sandbox: Some(sandbox),
            demo: Some(setup),
            master: Some(master),
            vapi_secret: Some(vapi_secret),
        });
    }
    demo::refuse_demo_database(&*db.conn()?, config)?;
    let providers = Providers::real(
        &config.twilio_api_base,
        &config.vapi_api_base,
        config.vapi_api_key.as_ref().map(|k| k.expose()),
    );
    let master = match (&config.twilio_account_sid, &config.twilio_auth_token) {
        (Some(sid), Some(token)) => Some(TwilioCreds {
            account_sid: sid.clone(),
            auth_token: token.expose().to_string(),
        }),
        _ => None,
    };
    let vapi_secret = config
        .vapi_webhook_secret
        .as_ref()
        .map(|s| s.expose().to_string());
    Ok(Wired {
        providers,
        sandbox: None,
        demo: None,
        master,
        vapi_secret,
    })
}

/// Built-in HTTPS (SPEC §14), bound at build time so a taken port stops start-up with the
/// variable to change; the certificate comes from ACME or the user's files.
struct Https {
    certs: Arc<crate::tls::Certificates>,
    https_listener: TcpListener,
    http_listener: TcpListener,
    redirect: web::Data<crate::tls::redirect::Redirect>,
    keeper: Keeper,
}

/// What keeps the served certificate current.
enum Keeper {
    Acme(crate::tls::acme::Acme),
    Files(std::path::PathBuf, std::path::PathBuf),
}

/// The running plain-HTTP server and certificate keeper, stopped with the appliance.
struct RunningHttps {
    redirect: actix_web::dev::ServerHandle,
    redirect_task: tokio::task::JoinHandle<std::io::Result<()>>,
    keeper: tokio::task::JoinHandle<()>,
}

impl RunningHttps {
    async fn stop(self) {
        self.keeper.abort();
        self.redirect.stop(true).await;
        let _ = self.redirect_task.await;
    }
}

impl Https {
    fn prepare(
        tls: &crate::config::TlsConfig,
        data_dir: &std::path::Path,
        public_url: &str,
    ) -> Result<Https, StartupError> {
        use crate::config::CertificateSource;
        let bind = |addr: std::net::SocketAddr, var: &str| {
            TcpListener::bind(addr).map_err(|source| StartupError::Bind {
                addr: format!("{addr} ({var}; ports below 1024 need CAP_NET_BIND_SERVICE, which the systemd unit grants)"),
                source,
            })
        };
        let https_listener = bind(tls.https_listen, "SWITCHBOARD_HTTPS_LISTEN")?;
        let http_listener = bind(tls.http_listen, "SWITCHBOARD_HTTP_LISTEN")?;
        let certs = Arc::new(crate::tls::Certificates::new(
            https_listener.local_addr()?,
            http_listener.local_addr()?,
        ));
        let (keeper, challenges) = match &tls.certificate {
            CertificateSource::Acme { .. } => {
                let acme = crate::tls::acme::Acme::new(
                    &tls.certificate,
                    tls.domains.clone(),
                    data_dir,
                    certs.clone(),
                )?;
                let challenges = acme.challenges.clone();
                (Keeper::Acme(acme), Some(challenges))
            }
            CertificateSource::Files { cert, key } => {
                let info = crate::tls::load_files(&certs, cert, key)?;
                log::info!(
                    "serving the certificate from {} for {} (valid until {})",
                    cert.display(),
                    info.names.join(", "),
                    info.not_after
                );
                (Keeper::Files(cert.clone(), key.clone()), None)
            }
        };
        let mut hosts = tls.domains.clone();
        if let Some(host) = public_url.strip_prefix("https://").map(|rest| {
            rest.split(['/', ':'])
                .next()
                .unwrap_or(rest)
                .to_ascii_lowercase()
        }) {
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        let redirect = web::Data::new(crate::tls::redirect::Redirect {
            challenges,
            hosts,
            https_port: certs.https_listen.port(),
        });
        Ok(Https {
            certs,
            https_listener,
            http_listener,
            redirect,
            keeper,
        })
    }

    fn ports(&self) -> (u16, u16) {
        (
            self.certs.https_listen.port(),
            self.certs.http_listen.port(),
        )
    }

    fn start(self) -> std::io::Result<RunningHttps> {
        let redirect = self.redirect.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(redirect.clone())
                .wrap(from_fn(http::log_request))
                .configure(crate::tls::redirect::routes)
        })
        .workers(1)
        .listen(self.http_listener)?
        .shutdown_timeout(1)
        .run();
        let handle = server.handle();
        let keeper = match self.keeper {
            Keeper::Acme(acme) => tokio::spawn(acme.run()),
            Keeper::Files(cert, key) => tokio::spawn(self.certs.clone().watch_files(cert, key)),
        };
        Ok(RunningHttps {
            redirect: handle,
            redirect_task: tokio::spawn(server),
            keeper,
        })
    }
}

/// The first SIGINT or SIGTERM (actix-web stops the server on the same signals).
async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot watch for SIGTERM: {e}");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
