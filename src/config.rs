//! One typed `Config` (SPEC §1): defaults in code, then a `KEY=VALUE` file (`--config`), then
//! `SWITCHBOARD_*` environment variables, then command-line flags. Secrets may come from a
//! file named by the `*_FILE` variant. A bad value fails start-up naming the variable.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const PREFIX: &str = "SWITCHBOARD_";

/// A secret value: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A configuration problem, always naming the variable and what a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            var: var.to_string(),
            problem: problem.into(),
        }
    }
}

/// Who checkpoints the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checkpointing {
    /// The appliance: a checkpoint thread copies the WAL into the database file, and the
    /// writer sends the WAL back to its start, bounding its size.
    #[default]
    Appliance,
    /// A replicator that must see every WAL frame before it is checkpointed (Litestream):
    /// the appliance never checkpoints, and the replicator bounds the WAL.
    External,
}

/// Named token-bucket limits (SPEC §6.1), in requests per minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub twilio_voice_per_caller: u32,
    pub auth_failures_per_ip: u32,
    pub api_per_principal: u32,
    pub login_per_ip_email: u32,
    /// Login attempts per IP across every email (password spraying).
    pub login_per_ip: u32,
    /// Login attempts from everywhere together (a flood from many addresses).
    pub login_global: u32,
}

/// Bounds on password hashing (SPEC §10, §11): each argon2id hash holds 19 MiB and a core,
/// so sign-ins share a few dedicated threads and a short queue instead of the blocking pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHashConfig {
    /// Hashes computed at once (`auto`: half the cores, 1 or 2).
    pub threads: usize,
    /// Sign-ins that may wait for a thread; beyond it they are answered 503 at once.
    pub queue: usize,
    /// How long a sign-in waits for a thread before it is answered 503.
    pub wait_secs: u32,
}

impl PasswordHashConfig {
    /// `auto`: half the cores, at least 1 and at most 2, so webhooks keep a core.
    pub fn auto_threads() -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / 2).clamp(1, 2)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The externally visible base URL, without a trailing slash.
    pub public_url: Option<String>,
    pub demo: bool,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<Secret>,
    pub twilio_api_base: String,
    /// A Twilio SharedKey (SID, secret) for webhooks signed with HMAC-SHA256.
    pub twilio_shared_key_sid: Option<String>,
    pub twilio_shared_key_secret: Option<Secret>,
    pub vapi_api_key: Option<Secret>,
    pub vapi_api_base: String,
    pub vapi_webhook_secret: Option<Secret>,
    pub vapi_webhook_hmac_secret: Option<Secret>,
    pub secret_key: Option<Secret>,
    pub trust_proxy: bool,
    /// Who checkpoints the database's WAL: `appliance`, or `litestream` when Litestream
    /// replicates the database (it must see every frame before a checkpoint).
    pub wal_checkpoints: Checkpointing,
    pub insecure_skip_twilio_signature: bool,
    pub log: String,
    pub session_ttl_hours: u32,
    /// Seconds between a missed call's end and its text-back, so a late dial result can
    /// still show the call was answered (SPEC §3.5).
    pub textback_delay_secs: u32,
    /// Seconds to wait for a voicemail transcript before notifying the owner without it.
    pub transcript_wait_secs: u32,
    pub rate_limits: RateLimitConfig,
    pub password_hashing: PasswordHashConfig,
    /// Built-in HTTPS, when a domain or a certificate is configured (SPEC §14).
    pub tls: Option<TlsConfig>,
    /// Email to the people of the business (SPEC §12), when an SMTP server is configured.
    pub smtp: Option<SmtpConfig>,
    /// Web push to `http://` push services (a local test service); real ones are https.
    pub push_allow_http: bool,
    /// Outgoing webhooks to private, loopback and link-local addresses and over http
    /// (SPEC §13): for a receiver on this host or network, never on by default.
    pub webhooks_allow_private: bool,
    /// `SWITCHBOARD_*` variables that no setting reads (likely typos), for `/api/health`.
    pub unknown_vars: Vec<String>,
}

/// Every setting: (suffix after `SWITCHBOARD_`, is secret, default shown by `config`).
const SETTINGS: &[(&str, bool, &str)] = &[
    ("LISTEN", false, "127.0.0.1:8080"),
    ("DATA_DIR", false, "./data"),
    ("PUBLIC_URL", false, ""),
    ("DEMO", false, "false"),
    ("TWILIO_ACCOUNT_SID", false, ""),
    ("TWILIO_AUTH_TOKEN", true, ""),
    ("TWILIO_API_BASE", false, "https://api.twilio.com"),
    ("TWILIO_SHARED_KEY_SID", false, ""),
    ("TWILIO_SHARED_KEY_SECRET", true, ""),
    ("VAPI_API_KEY", true, ""),
    ("VAPI_API_BASE", false, "https://api.vapi.ai"),
    ("VAPI_WEBHOOK_SECRET", true, ""),
    ("VAPI_WEBHOOK_HMAC_SECRET", true, ""),
    ("SECRET_KEY", true, ""),
    ("TRUST_PROXY", false, "false"),
    ("PUSH_ALLOW_HTTP", false, "false"),
    ("WEBHOOKS_ALLOW_PRIVATE", false, "false"),
    ("WAL_CHECKPOINTS", false, "appliance"),
    ("INSECURE_SKIP_TWILIO_SIGNATURE", false, "false"),
    ("LOG", false, "info"),
    ("SESSION_TTL_HOURS", false, "168"),
    ("TEXTBACK_DELAY_SECS", false, "10"),
    ("TRANSCRIPT_WAIT_SECS", false, "120"),
    ("RATE_TWILIO_VOICE_PER_MIN", false, "10"),
    ("RATE_AUTH_FAILURES_PER_MIN", false, "60"),
    ("RATE_API_PER_MIN", false, "600"),
    ("RATE_LOGIN_PER_MIN", false, "5"),
    ("RATE_LOGIN_PER_IP_PER_MIN", false, "20"),
    ("RATE_LOGIN_GLOBAL_PER_MIN", false, "60"),
    ("PASSWORD_HASH_THREADS", false, "auto"),
    ("PASSWORD_HASH_QUEUE", false, "8"),
    ("PASSWORD_HASH_WAIT_SECS", false, "3"),
    ("DOMAINS", false, ""),
    ("HTTPS_LISTEN", false, "0.0.0.0:443"),
    ("HTTP_LISTEN", false, "0.0.0.0:80"),
    ("ACME_DIRECTORY", false, LETS_ENCRYPT),
    ("ACME_CA_FILE", false, ""),
    ("ACME_EMAIL", false, ""),
    ("TLS_CERT_FILE", false, ""),
    ("TLS_KEY_FILE", false, ""),
    ("SMTP_URL", true, ""),
    ("SMTP_FROM", false, ""),
];

/// Email through an SMTP server (SPEC §12): the URL in lettre's form
/// (`smtps://user:pass@host`, `smtp://host:587?tls=required`, `smtp://host:25` for a local
/// relay) and the sender.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub url: Secret,
    pub from: String,
}

impl SmtpConfig {
    fn from_sources(src: &Sources) -> Result<Option<SmtpConfig>, ConfigError> {
        let Some(url) = src.secret("SMTP_URL")? else {
            return Ok(None);
        };
        let scheme_ok = ["smtp://", "smtps://"]
            .iter()
            .any(|s| url.expose().starts_with(s));
        if !scheme_ok {
            return Err(ConfigError::new(
                "SWITCHBOARD_SMTP_URL",
                "must start with smtps:// (TLS from the start, port 465), or smtp:// (add ?tls=required for STARTTLS on 587; plain smtp://host:25 only for a relay on this host)",
            ));
        }
        let from = src
            .raw("SMTP_FROM")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .ok_or_else(|| ConfigError::new(
                "SWITCHBOARD_SMTP_FROM",
                "is required with SWITCHBOARD_SMTP_URL: the sender, like \"Joe's Plumbing <phones@example.com>\"",
            ))?;
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "SWITCHBOARD_SMTP_FROM",
                format!("'{from}' is not a sender address like phones@example.com or \"Joe's Plumbing <phones@example.com>\""),
            ));
        }
        Ok(Some(SmtpConfig {
            url,
            from: from.to_string(),
        }))
    }
}

/// Let's Encrypt's production ACME directory, the default CA for `--domain`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Built-in HTTPS (SPEC §14): present when `--domain`/`SWITCHBOARD_DOMAINS` or a
/// certificate file is set; without it nothing listens beyond `SWITCHBOARD_LISTEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Names the certificate is for (ACME orders them; redirects keep to them).
    pub domains: Vec<String>,
    pub https_listen: SocketAddr,
    /// Plain HTTP: ACME HTTP-01 answers, everything else a 308 to https.
    pub http_listen: SocketAddr,
    pub certificate: CertificateSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// Obtained and renewed from an ACME CA, cached in `<data dir>/tls/`.
    Acme {
        directory: String,
        /// PEM roots trusted for the ACME server's own https (a test CA).
        ca_file: Option<PathBuf>,
        email: Option<String>,
    },
    /// A certificate the user brings (re-read when the files change).
    Files { cert: PathBuf, key: PathBuf },
}

impl TlsConfig {
    fn from_sources(src: &Sources) -> Result<Option<TlsConfig>, ConfigError> {
        let domains = src
            .raw("DOMAINS")
            .unwrap_or("")
            .split([',', ' '])
            .filter(|d| !d.trim().is_empty())
            .map(|d| domain_name(d.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let file = |suffix: &str| {
            src.raw(suffix)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let certificate = match (file("TLS_CERT_FILE"), file("TLS_KEY_FILE")) {
            (Some(cert), Some(key)) => CertificateSource::Files { cert, key },
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::new(
                    if file("TLS_CERT_FILE").is_some() { "SWITCHBOARD_TLS_KEY_FILE" } else { "SWITCHBOARD_TLS_CERT_FILE" },
                    "must be set together with the other: SWITCHBOARD_TLS_CERT_FILE (the certificate chain, PEM) and SWITCHBOARD_TLS_KEY_FILE (its private key, PEM)",
                ))
            }
            (None, None) if domains.is_empty() => return Ok(None),
            (None, None) => CertificateSource::Acme {
                directory: normalize_base_url(
                    "SWITCHBOARD_ACME_DIRECTORY",
                    src.raw("ACME_DIRECTORY").unwrap_or(LETS_ENCRYPT),
                )?,
                ca_file: file("ACME_CA_FILE"),
                email: match src.raw("ACME_EMAIL").map(str::trim).filter(|e| !e.is_empty()) {
                    Some(e) => match e.parse::<lettre::Address>() {
                        Ok(address) => Some(address.to_string().to_lowercase()),
                        Err(_) => {
                            return Err(ConfigError::new(
                                "SWITCHBOARD_ACME_EMAIL",
                                format!("'{e}' is not an email address like you@example.com"),
                            ))
                        }
                    },
                    None => None,
                },
            },
        };
        let addr = |suffix: &str, example: &str| {
            src.parsed(suffix, &format!("a socket address like {example}"), |v| {
                v.parse().ok()
            })
        };
        Ok(Some(TlsConfig {
            domains,
            https_listen: addr("HTTPS_LISTEN", "0.0.0.0:443")?,
            http_listen: addr("HTTP_LISTEN", "0.0.0.0:80")?,
            certificate,
        }))
    }

    /// `https://<first domain>`, with the port when it is not 443.
    pub fn default_public_url(&self) -> Option<String> {
        let domain = self.domains.first()?;
        Some(match self.https_listen.port() {
            443 => format!("https://{domain}"),
            port => format!("https://{domain}:{port}"),
        })
    }
}

/// A DNS name a certificate can be issued for: lowercase letters, digits and hyphens in
/// dot-separated labels, at least two of them (no IP addresses, no wildcards).
fn domain_name(value: &str) -> Result<String, ConfigError> {
    let d = value.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let labels: Vec<&str> = d.split('.').collect();
    let is_ip = d.parse::<std::net::IpAddr>().is_ok();
    if d.len() <= 253 && labels.len() >= 2 && labels.iter().all(|l| label_ok(l)) && !is_ip {
        Ok(d)
    } else {
        Err(ConfigError::new(
            "SWITCHBOARD_DOMAINS",
            format!("'{value}' is not a domain name a certificate can be issued for: use the name Twilio will call, like phones.example.com (no https://, port, IP address or wildcard)"),
        ))
    }
}

/// The raw `SWITCHBOARD_*` values after merging every source, keyed by full variable name.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    vars: HashMap<String, String>,
}

impl Sources {
    /// Merges, lowest precedence first: the optional `--config` file, then the process
    /// environment (only `SWITCHBOARD_*` keys), then explicit overrides (CLI flags).
    pub fn gather(
        config_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        if let Some(path) = config_file {
            vars.extend(parse_env_file(path)?);
        }
        vars.extend(env.into_iter().filter(|(k, _)| k.starts_with(PREFIX)));
        vars.extend(overrides);
        Ok(Sources { vars })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Sources {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.vars.insert(key.to_string(), value.into());
    }

    fn raw(&self, suffix: &str) -> Option<&str> {
        self.vars
            .get(&format!("{PREFIX}{suffix}"))
            .map(|v| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// A Twilio SID (checked against its two-letter `prefix`) and the secret that goes with
    /// it: both or neither. `sid` is (suffix, prefix, what it is, where to find it);
    /// `secret` is (suffix, where to find it).
    fn sid_and_secret(
        &self,
        (sid_var, prefix, what, sid_help): (&str, &str, &str, &str),
        (secret_var, secret_help): (&str, &str),
    ) -> Result<(Option<String>, Option<Secret>), ConfigError> {
        let sid = self.raw(sid_var).map(|s| s.trim().to_string());
        if let Some(sid) = &sid {
            if !is_sid(sid, prefix) {
                return Err(ConfigError::new(
                    &format!("SWITCHBOARD_{sid_var}"),
                    format!("'{sid}' is not {what}: it starts with {prefix} followed by 32 hex characters{sid_help}"),
                ));
            }
        }
        let secret = self.secret(secret_var)?;
        match (&sid, &secret) {
            (Some(_), None) => Err(ConfigError::new(
                &format!("SWITCHBOARD_{secret_var}"),
                format!("is required when SWITCHBOARD_{sid_var} is set{secret_help}"),
            )),
            (None, Some(_)) => Err(ConfigError::new(
                &format!("SWITCHBOARD_{sid_var}"),
                format!("is required when SWITCHBOARD_{secret_var} is set"),
            )),
            _ => Ok((sid, secret)),
        }
    }

    /// A secret from `SWITCHBOARD_X` or the file named by `SWITCHBOARD_X_FILE` (not both).
    fn secret(&self, suffix: &str) -> Result<Option<Secret>, ConfigError> {
        let var = format!("{PREFIX}{suffix}");
        let file_var = format!("{var}_FILE");
        match (self.raw(suffix), self.raw(&format!("{suffix}_FILE"))) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                &var,
                format!("set either {var} or {file_var}, not both"),
            )),
            (Some(v), None) => Ok(Some(Secret::new(v.trim()))),
            (None, Some(path)) => {
                let content = std::fs::read_to_string(path.trim()).map_err(|e| {
                    ConfigError::new(&file_var, format!("cannot read secret file '{path}': {e}"))
                })?;
                let value = content.trim();
                if value.is_empty() {
                    return Err(ConfigError::new(
                        &file_var,
                        format!("the secret file '{path}' is empty"),
                    ));
                }
                Ok(Some(Secret::new(value)))
            }
            (None, None) => Ok(None),
        }
    }

    fn parsed<T>(
        &self,
        suffix: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        let default = SETTINGS
            .iter()
            .find(|(s, _, _)| *s == suffix)
            .map(|(_, _, d)| *d)
            .unwrap_or("");
        let value = self.raw(suffix).unwrap_or(default).trim();
        parse(value).ok_or_else(|| {
            ConfigError::new(
                &format!("{PREFIX}{suffix}"),
                format!("'{value}' is not {what} (default: {default})"),
            )
        })
    }

    fn bool(&self, suffix: &str) -> Result<bool, ConfigError> {
        self.parsed(suffix, "a boolean: use true or false", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            }
        })
    }

    fn per_minute(&self, suffix: &str) -> Result<u32, ConfigError> {
        self.parsed(
            suffix,
            "a whole number of requests per minute between 1 and 1000000",
            |v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
            },
        )
    }
}

impl Config {
    pub fn from_sources(src: &Sources) -> Result<Config, ConfigError> {
        let listen = src.parsed("LISTEN", "a socket address like 127.0.0.1:8080", |v| {
            v.parse().ok()
        })?;
        let demo = src.bool("DEMO")?;
        let data_dir = PathBuf::from(src.raw("DATA_DIR").unwrap_or("./data").trim());
        let tls = TlsConfig::from_sources(src)?;
        let public_url = match src.raw("PUBLIC_URL") {
            Some(v) => Some(normalize_base_url("SWITCHBOARD_PUBLIC_URL", v)?),
            None => tls.as_ref().and_then(TlsConfig::default_public_url),
        };
        let (twilio_account_sid, twilio_auth_token) = src.sid_and_secret(
            (
                "TWILIO_ACCOUNT_SID",
                "AC",
                "a Twilio account SID",
                " (Twilio Console → Account Info)",
            ),
            (
                "TWILIO_AUTH_TOKEN",
                " (Twilio Console → Account Info → Auth Token)",
            ),
        )?;
        let (twilio_shared_key_sid, twilio_shared_key_secret) = src.sid_and_secret(
            ("TWILIO_SHARED_KEY_SID", "SK", "a Twilio SharedKey SID", ""),
            (
                "TWILIO_SHARED_KEY_SECRET",
                " (the secret Twilio showed once when the key was created)",
            ),
        )?;
        let secret_key = src.secret("SECRET_KEY")?;
        if let Some(key) = &secret_key {
            crate::crypto::SecretKey::from_base64(key.expose())
                .map_err(|problem| ConfigError::new("SWITCHBOARD_SECRET_KEY", problem))?;
        }
        let session_ttl_hours = src.parsed(
            "SESSION_TTL_HOURS",
            "a number of hours between 1 and 8760",
            |v| v.parse::<u32>().ok().filter(|n| (1..=8760).contains(n)),
        )?;
        let textback_delay_secs = src.parsed(
            "TEXTBACK_DELAY_SECS",
            "a number of seconds between 0 and 600",
            |v| v.parse::<u32>().ok().filter(|n| *n <= 600),
        )?;
        let transcript_wait_secs = src.parsed(
            "TRANSCRIPT_WAIT_SECS",
            "a number of seconds between 0 and 3600",
            |v| v.parse::<u32>().ok().filter(|n| *n <= 3600),
        )?;
        let config = Config {
            listen,
            data_dir,
            public_url,
            demo,
            twilio_account_sid,
            twilio_auth_token,
            twilio_api_base: normalize_base_url(
                "SWITCHBOARD_TWILIO_API_BASE",
                src.raw("TWILIO_API_BASE")
                    .unwrap_or("https://api.twilio.com"),
            )?,
            twilio_shared_key_sid,
            twilio_shared_key_secret,
            vapi_api_key: src.secret("VAPI_API_KEY")?,
            vapi_api_base: normalize_base_url(
                "SWITCHBOARD_VAPI_API_BASE",
                src.raw("VAPI_API_BASE").unwrap_or("https://api.vapi.ai"),
            )?,
            vapi_webhook_secret: src.secret("VAPI_WEBHOOK_SECRET")?,
            vapi_webhook_hmac_secret: src.secret("VAPI_WEBHOOK_HMAC_SECRET")?,
            secret_key,
            trust_proxy: src.bool("TRUST_PROXY")?,
            push_allow_http: src.bool("PUSH_ALLOW_HTTP")?,
            webhooks_allow_private: src.bool("WEBHOOKS_ALLOW_PRIVATE")?,
            wal_checkpoints: src.parsed(
                "WAL_CHECKPOINTS",
                "who checkpoints the WAL: appliance, or litestream when Litestream replicates the database",
                |v| match v {
                    "appliance" => Some(Checkpointing::Appliance),
                    "litestream" => Some(Checkpointing::External),
                    _ => None,
                },
            )?,
            insecure_skip_twilio_signature: src.bool("INSECURE_SKIP_TWILIO_SIGNATURE")?,
            log: src.raw("LOG").unwrap_or("info").trim().to_string(),
            session_ttl_hours,
            textback_delay_secs,
            transcript_wait_secs,
            rate_limits: RateLimitConfig {
                twilio_voice_per_caller: src.per_minute("RATE_TWILIO_VOICE_PER_MIN")?,
                auth_failures_per_ip: src.per_minute("RATE_AUTH_FAILURES_PER_MIN")?,
                api_per_principal: src.per_minute("RATE_API_PER_MIN")?,
                login_per_ip_email: src.per_minute("RATE_LOGIN_PER_MIN")?,
                login_per_ip: src.per_minute("RATE_LOGIN_PER_IP_PER_MIN")?,
                login_global: src.per_minute("RATE_LOGIN_GLOBAL_PER_MIN")?,
            },
            password_hashing: PasswordHashConfig {
                threads: src.parsed(
                    "PASSWORD_HASH_THREADS",
                    "auto or a number of threads between 1 and 16",
                    |v| match v {
                        "auto" => Some(PasswordHashConfig::auto_threads()),
                        n => n.parse::<usize>().ok().filter(|n| (1..=16).contains(n)),
                    },
                )?,
                queue: src.parsed(
                    "PASSWORD_HASH_QUEUE",
                    "a number of waiting sign-ins between 0 and 1000",
                    |v| v.parse::<usize>().ok().filter(|n| *n <= 1000),
                )?,
                wait_secs: src.parsed(
                    "PASSWORD_HASH_WAIT_SECS",
                    "a number of seconds between 1 and 60",
                    |v| v.parse::<u32>().ok().filter(|n| (1..=60).contains(n)),
                )?,
            },
            tls,
            smtp: SmtpConfig::from_sources(src)?,
            unknown_vars: unknown_vars(src),
        };
        Ok(config)
    }

    /// Checks what `serve` needs beyond parsing: outside demo mode Twilio and Vapi must be
    /// able to reach the appliance, so `PUBLIC_URL` is required.
    pub fn check_for_serve(&self) -> Result<(), ConfigError> {
        if !self.demo && self.public_url.is_none() {
            return Err(ConfigError::new(
                "SWITCHBOARD_PUBLIC_URL",
                "is required to serve outside demo mode: set it to the https:// URL at which Twilio and Vapi reach this \
                 appliance (e.g. https://phones.example.com), or run `switchboard serve --demo` to try it with sandbox providers",
            ));
        }
        Ok(())
    }

    /// Cookies get `Secure` when the dashboard is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The appliance's address as seen from this host, e.g. `http://127.0.0.1:8080`.
    pub fn local_base_url(&self) -> String {
        local_url(self.listen, self.listen.port())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("switchboard.db")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.data_dir.join("backups")
    }

    /// Problems that do not stop start-up but that an operator should fix (`/api/health`):
    /// the [`Config::gaps`] first, then the rest.
    pub fn warnings(&self) -> Vec<String> {
        let (mut out, advice) = self.gaps_and_advice();
        out.extend(advice);
        out
    }

    /// What keeps the appliance from working or from being safe: a missing URL or
    /// credential, a switched-off signature check (`doctor` fails on these).
    pub fn gaps(&self) -> Vec<String> {
        self.gaps_and_advice().0
    }

    fn gaps_and_advice(&self) -> (Vec<String>, Vec<String>) {
        let mut out = Vec::new();
        let mut advice = Vec::new();
        if self.public_url.is_none() && !self.demo {
            out.push(
                "SWITCHBOARD_PUBLIC_URL is not set: Twilio and Vapi cannot reach this appliance."
                    .into(),
            );
        }
        if self
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("http://"))
            && !self.demo
        {
            advice.push("SWITCHBOARD_PUBLIC_URL is not https: session cookies are sent without Secure and Twilio signatures are checked against an http URL.".into());
        }
        if self.insecure_skip_twilio_signature {
            out.push("SWITCHBOARD_INSECURE_SKIP_TWILIO_SIGNATURE=true: Twilio webhook signatures are NOT checked; anyone can forge calls and texts.".into());
        }
        if !self.demo && self.twilio_account_sid.is_none() {
            out.push("Twilio credentials are not configured (SWITCHBOARD_TWILIO_ACCOUNT_SID / SWITCHBOARD_TWILIO_AUTH_TOKEN): Twilio webhooks will be rejected.".into());
        }
        if !self.demo
            && self.vapi_webhook_secret.is_none()
            && self.vapi_webhook_hmac_secret.is_none()
        {
            out.push("No Vapi webhook secret is configured (SWITCHBOARD_VAPI_WEBHOOK_SECRET): Vapi webhooks will be rejected.".into());
        }
        for var in &self.unknown_vars {
            advice.push(format!(
                "{var} is set but is not a switchboard setting (a typo?); it is ignored."
            ));
        }
        (out, advice)
    }

    /// Every setting with its effective value, secrets redacted, for `switchboard config`.
    pub fn redacted_listing(&self) -> BTreeMap<String, String> {
        let secret = |s: &Option<Secret>| match s {
            Some(_) => "(set, redacted)".to_string(),
            None => "(not set)".to_string(),
        };
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "(not set)".into());
        let r = &self.rate_limits;
        [
            ("LISTEN", self.listen.to_string()),
            ("DATA_DIR", self.data_dir.display().to_string()),
            ("PUBLIC_URL", opt(&self.public_url)),
            ("DEMO", self.demo.to_string()),
            ("TWILIO_ACCOUNT_SID", opt(&self.twilio_account_sid)),
            ("TWILIO_AUTH_TOKEN", secret(&self.twilio_auth_token)),
            ("TWILIO_API_BASE", self.twilio_api_base.clone()),
            ("TWILIO_SHARED_KEY_SID", opt(&self.twilio_shared_key_sid)),
            (
                "TWILIO_SHARED_KEY_SECRET",
                secret(&self.twilio_shared_key_secret),
            ),
            ("VAPI_API_KEY", secret(&self.vapi_api_key)),
            ("VAPI_API_BASE", self.vapi_api_base.clone()),
            ("VAPI_WEBHOOK_SECRET", secret(&self.vapi_webhook_secret)),
            (
                "VAPI_WEBHOOK_HMAC_SECRET",
                secret(&self.vapi_webhook_hmac_secret),
            ),
            ("SECRET_KEY", secret(&self.secret_key)),
            ("TRUST_PROXY", self.trust_proxy.to_string()),
            ("PUSH_ALLOW_HTTP", self.push_allow_http.to_string()),
            (
                "WEBHOOKS_ALLOW_PRIVATE",
                self.webhooks_allow_private.to_string(),
            ),
            (
                "WAL_CHECKPOINTS",
                match self.wal_checkpoints {
                    Checkpointing::Appliance => "appliance",
                    Checkpointing::External => "litestream",
                }
                .to_string(),
            ),
            (
                "INSECURE_SKIP_TWILIO_SIGNATURE",
                self.insecure_skip_twilio_signature.to_string(),
            ),
            ("LOG", self.log.clone()),
            ("SESSION_TTL_HOURS", self.session_ttl_hours.to_string()),
            ("TEXTBACK_DELAY_SECS", self.textback_delay_secs.to_string()),
            (
                "TRANSCRIPT_WAIT_SECS",
                self.transcript_wait_secs.to_string(),
            ),
            (
                "RATE_TWILIO_VOICE_PER_MIN",
                r.twilio_voice_per_caller.to_string(),
            ),
            (
                "RATE_AUTH_FAILURES_PER_MIN",
                r.auth_failures_per_ip.to_string(),
            ),
            ("RATE_API_PER_MIN", r.api_per_principal.to_string()),
            ("RATE_LOGIN_PER_MIN", r.login_per_ip_email.to_string()),
            ("RATE_LOGIN_PER_IP_PER_MIN", r.login_per_ip.to_string()),
            ("RATE_LOGIN_GLOBAL_PER_MIN", r.login_global.to_string()),
            (
                "PASSWORD_HASH_THREADS",
                self.password_hashing.threads.to_string(),
            ),
            (
                "PASSWORD_HASH_QUEUE",
                self.password_hashing.queue.to_string(),
            ),
            (
                "PASSWORD_HASH_WAIT_SECS",
                self.password_hashing.wait_secs.to_string(),
            ),
        ]
        .into_iter()
        .chain(self.tls_listing())
        .chain([
            (
                "SMTP_URL",
                if self.smtp.is_some() {
                    "(set, redacted)".to_string()
                } else {
                    "(not set)".to_string()
                },
            ),
            (
                "SMTP_FROM",
                self.smtp
                    .as_ref()
                    .map_or_else(|| "(not set)".to_string(), |s| s.from.clone()),
            ),
        ])
        .map(|(k, v)| (format!("{PREFIX}{k}"), v))
        .collect()
    }

    fn tls_listing(&self) -> Vec<(&'static str, String)> {
        let off = || "(not set)".to_string();
        let Some(t) = &self.tls else {
            return [
                "DOMAINS",
                "HTTPS_LISTEN",
                "HTTP_LISTEN",
                "ACME_DIRECTORY",
                "ACME_CA_FILE",
                "ACME_EMAIL",
                "TLS_CERT_FILE",
                "TLS_KEY_FILE",
            ]
            .into_iter()
            .map(|k| (k, off()))
            .collect();
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map_or_else(off, |p| p.display().to_string());
        let (directory, ca_file, email, cert, key) = match &t.certificate {
            CertificateSource::Acme {
                directory,
                ca_file,
                email,
            } => (
                directory.clone(),
                path(ca_file),
                email.clone().unwrap_or_else(off),
                off(),
                off(),
            ),
            CertificateSource::Files { cert, key } => (
                off(),
                off(),
                off(),
                cert.display().to_string(),
                key.display().to_string(),
            ),
        };
        vec![
            (
                "DOMAINS",
                if t.domains.is_empty() {
                    off()
                } else {
                    t.domains.join(",")
                },
            ),
            ("HTTPS_LISTEN", t.https_listen.to_string()),
            ("HTTP_LISTEN", t.http_listen.to_string()),
            ("ACME_DIRECTORY", directory),
            ("ACME_CA_FILE", ca_file),
            ("ACME_EMAIL", email),
            ("TLS_CERT_FILE", cert),
            ("TLS_KEY_FILE", key),
        ]
    }

    /// A configuration for tests and tools: defaults plus the given data dir.
    pub fn for_data_dir(data_dir: &Path) -> Config {
        let mut src = Sources::default();
        src.set("SWITCHBOARD_DATA_DIR", data_dir.display().to_string());
        Config::from_sources(&src).expect("defaults are valid")
    }
}

/// The URL that reaches a server listening on `listen` (bound to `port`) from this host:
/// an unspecified address is reached on loopback.
pub fn local_url(listen: SocketAddr, port: u16) -> String {
    let ip = listen.ip();
    let host = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("http://{host}:{port}")
}

fn unknown_vars(src: &Sources) -> Vec<String> {
    let mut unknown: Vec<String> = src
        .vars
        .keys()
        .filter(|k| {
            let suffix = &k[PREFIX.len()..];
            let base = suffix.strip_suffix("_FILE").unwrap_or(suffix);
            !SETTINGS
                .iter()
                .any(|(s, is_secret, _)| *s == suffix || (*is_secret && *s == base))
        })
        .cloned()
        .collect();
    unknown.sort();
    unknown
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Accepts `http(s)://host[:port][/path]`, drops a trailing slash.
fn normalize_base_url(var: &str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') && !v.contains(['?', '#', ' ']) => Ok(v.to_string()),
        _ => Err(ConfigError::new(
            var,
            format!("'{value}' is not a base URL: use http:// or https:// followed by a host, e.g. https://phones.example.com"),
        )),
    }
}

/// Reads a systemd-style `KEY=VALUE` file: `#` comments, blank lines, optional `export `,
/// optional single or double quotes around the value.
pub fn parse_env_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new("--config", format!("cannot read '{}': {e}", path.display()))
    })?;
    let mut vars = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(ConfigError::new(
                "--config",
                format!(
                    "{}:{}: expected KEY=VALUE, found '{line}'",
                    path.display(),
                    n + 1
                ),
            ));
        };
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        vars.insert(key.trim().to_string(), unquoted.to_string());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = load(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.twilio_api_base, "https://api.twilio.com");
        assert_eq!(c.vapi_api_base, "https://api.vapi.ai");
        assert!(!c.trust_proxy);
        assert_eq!(c.rate_limits.login_per_ip_email, 5);
        assert_eq!(c.rate_limits.login_per_ip, 20);
        assert_eq!(c.rate_limits.api_per_principal, 600);
    }

    #[test]
    fn a_bad_listen_address_names_the_variable() {
        let err = load(&[("SWITCHBOARD_LISTEN", "localhost")]).unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_LISTEN");
        assert!(err.problem.contains("127.0.0.1:8080"), "{}", err.problem);
    }

    #[test]
    fn the_wal_is_checkpointed_by_the_appliance_unless_litestream_is_named() {
        assert_eq!(load(&[]).unwrap().wal_checkpoints, Checkpointing::Appliance);
        let c = load(&[("SWITCHBOARD_WAL_CHECKPOINTS", "litestream")]).unwrap();
        assert_eq!(c.wal_checkpoints, Checkpointing::External);
        let err = load(&[("SWITCHBOARD_WAL_CHECKPOINTS", "both")]).unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_WAL_CHECKPOINTS");
        assert!(err.problem.contains("litestream"), "{}", err.problem);
    }

    #[test]
    fn a_bad_boolean_names_the_variable() {
        let err = load(&[("SWITCHBOARD_TRUST_PROXY", "maybe")]).unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_TRUST_PROXY");
    }

    #[test]
    fn an_account_sid_without_a_token_names_the_token() {
        let err = load(&[(
            "SWITCHBOARD_TWILIO_ACCOUNT_SID",
            "AC0123456789abcdef0123456789abcdef",
        )])
        .unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_TWILIO_AUTH_TOKEN");
    }

    #[test]
    fn a_malformed_account_sid_is_refused() {
        let err = load(&[
            ("SWITCHBOARD_TWILIO_ACCOUNT_SID", "not-a-sid"),
            ("SWITCHBOARD_TWILIO_AUTH_TOKEN", "x"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_TWILIO_ACCOUNT_SID");
    }

    #[test]
    fn public_url_must_be_http_or_https_and_loses_its_trailing_slash() {
        assert_eq!(
            load(&[("SWITCHBOARD_PUBLIC_URL", "https://phones.example.com/")])
                .unwrap()
                .public_url
                .as_deref(),
            Some("https://phones.example.com")
        );
        assert_eq!(
            load(&[("SWITCHBOARD_PUBLIC_URL", "phones.example.com")])
                .unwrap_err()
                .var,
            "SWITCHBOARD_PUBLIC_URL"
        );
    }

    #[test]
    fn serve_outside_demo_requires_public_url() {
        let err = load(&[]).unwrap().check_for_serve().unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_PUBLIC_URL");
        assert!(load(&[("SWITCHBOARD_DEMO", "true")])
            .unwrap()
            .check_for_serve()
            .is_ok());
    }

    #[test]
    fn a_shared_key_needs_an_sk_sid_and_its_secret() {
        let sid = "SK0123456789abcdef0123456789abcdef";
        let ok = load(&[
            ("SWITCHBOARD_TWILIO_SHARED_KEY_SID", sid),
            ("SWITCHBOARD_TWILIO_SHARED_KEY_SECRET", "s3cret"),
        ])
        .unwrap();
        assert_eq!(ok.twilio_shared_key_sid.as_deref(), Some(sid));
        let alone = load(&[("SWITCHBOARD_TWILIO_SHARED_KEY_SID", sid)]).unwrap_err();
        assert_eq!(alone.var, "SWITCHBOARD_TWILIO_SHARED_KEY_SECRET");
        let secret_alone = load(&[("SWITCHBOARD_TWILIO_SHARED_KEY_SECRET", "x")]).unwrap_err();
        assert_eq!(secret_alone.var, "SWITCHBOARD_TWILIO_SHARED_KEY_SID");
        let wrong = load(&[
            (
                "SWITCHBOARD_TWILIO_SHARED_KEY_SID",
                "AC0123456789abcdef0123456789abcdef",
            ),
            ("SWITCHBOARD_TWILIO_SHARED_KEY_SECRET", "x"),
        ])
        .unwrap_err();
        assert!(
            wrong.problem.contains("starts with SK"),
            "{}",
            wrong.problem
        );
    }

    #[test]
    fn secrets_can_come_from_a_file_but_not_from_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let path = file.display().to_string();
        let c = load(&[("SWITCHBOARD_VAPI_WEBHOOK_SECRET_FILE", &path)]).unwrap();
        assert_eq!(c.vapi_webhook_secret.unwrap().expose(), "s3cret");
        let err = load(&[
            ("SWITCHBOARD_VAPI_WEBHOOK_SECRET_FILE", &path),
            ("SWITCHBOARD_VAPI_WEBHOOK_SECRET", "x"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_VAPI_WEBHOOK_SECRET");
        let missing = load(&[("SWITCHBOARD_VAPI_API_KEY_FILE", "/nonexistent/key")]).unwrap_err();
        assert_eq!(missing.var, "SWITCHBOARD_VAPI_API_KEY_FILE");
    }

    #[test]
    fn a_domain_turns_on_https_with_lets_encrypt_and_sets_the_public_url() {
        let c = load(&[("SWITCHBOARD_DOMAINS", "Phones.Example.com, www.example.com")]).unwrap();
        let tls = c.tls.clone().unwrap();
        assert_eq!(tls.domains, ["phones.example.com", "www.example.com"]);
        assert_eq!(tls.https_listen.to_string(), "0.0.0.0:443");
        assert_eq!(tls.http_listen.to_string(), "0.0.0.0:80");
        assert!(
            matches!(tls.certificate, CertificateSource::Acme { ref directory, .. } if directory == LETS_ENCRYPT)
        );
        assert_eq!(c.public_url.as_deref(), Some("https://phones.example.com"));
        assert!(c.secure_cookies());
        let c = load(&[
            ("SWITCHBOARD_DOMAINS", "phones.example.com"),
            ("SWITCHBOARD_HTTPS_LISTEN", "127.0.0.1:8443"),
            ("SWITCHBOARD_PUBLIC_URL", "https://other.example.com"),
        ])
        .unwrap();
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://other.example.com"),
            "an explicit PUBLIC_URL wins"
        );
        assert_eq!(
            c.tls.unwrap().default_public_url().unwrap(),
            "https://phones.example.com:8443"
        );
        assert!(
            load(&[]).unwrap().tls.is_none(),
            "nothing changes without a domain or certificate"
        );
        for bad in [
            "https://phones.example.com",
            "10.0.0.1",
            "*.example.com",
            "localhost",
            "a..b",
        ] {
            let err = load(&[("SWITCHBOARD_DOMAINS", bad)]).unwrap_err();
            assert_eq!(err.var, "SWITCHBOARD_DOMAINS", "{bad}");
        }
        let err = load(&[("SWITCHBOARD_TLS_CERT_FILE", "/etc/cert.pem")]).unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_TLS_KEY_FILE");
        let c = load(&[
            ("SWITCHBOARD_TLS_CERT_FILE", "/etc/cert.pem"),
            ("SWITCHBOARD_TLS_KEY_FILE", "/etc/key.pem"),
        ])
        .unwrap();
        assert!(matches!(
            c.tls.unwrap().certificate,
            CertificateSource::Files { .. }
        ));
    }

    #[test]
    fn smtp_needs_a_url_lettre_reads_and_a_sender() {
        assert!(load(&[]).unwrap().smtp.is_none());
        let c = load(&[
            ("SWITCHBOARD_SMTP_URL", "smtps://u:secret@smtp.example.com"),
            (
                "SWITCHBOARD_SMTP_FROM",
                "Joe's Plumbing <phones@example.com>",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.smtp.as_ref().unwrap().from,
            "Joe's Plumbing <phones@example.com>"
        );
        assert!(!format!("{:?}", c.redacted_listing()).contains("secret"));
        let err = load(&[("SWITCHBOARD_SMTP_URL", "smtps://smtp.example.com")]).unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_SMTP_FROM");
        let err = load(&[
            ("SWITCHBOARD_SMTP_URL", "mail.example.com:587"),
            ("SWITCHBOARD_SMTP_FROM", "phones@example.com"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_SMTP_URL");
        let err = load(&[
            ("SWITCHBOARD_SMTP_URL", "smtp://localhost:25"),
            ("SWITCHBOARD_SMTP_FROM", "not an address"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "SWITCHBOARD_SMTP_FROM");
    }

    #[test]
    fn the_listing_redacts_secrets() {
        let c = load(&[("SWITCHBOARD_VAPI_WEBHOOK_SECRET", "hunter2")]).unwrap();
        let listing = c.redacted_listing();
        assert_eq!(
            listing["SWITCHBOARD_VAPI_WEBHOOK_SECRET"],
            "(set, redacted)"
        );
        assert!(!format!("{listing:?}{c:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_switchboard_variables_become_warnings() {
        let c = load(&[
            ("SWITCHBOARD_PUBLIK_URL", "x"),
            ("SWITCHBOARD_VAPI_API_KEY_FILE", ""),
        ])
        .unwrap();
        assert_eq!(c.unknown_vars, vec!["SWITCHBOARD_PUBLIK_URL".to_string()]);
        assert!(c
            .warnings()
            .iter()
            .any(|w| w.contains("SWITCHBOARD_PUBLIK_URL")));
    }

    #[test]
    fn env_file_lines_are_parsed_with_comments_quotes_and_export() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(&file, "# comment\n\nexport SWITCHBOARD_LOG=debug\nSWITCHBOARD_PUBLIC_URL=\"https://a.example\"\n").unwrap();
        let vars = parse_env_file(&file).unwrap();
        assert_eq!(vars["SWITCHBOARD_LOG"], "debug");
        assert_eq!(vars["SWITCHBOARD_PUBLIC_URL"], "https://a.example");
        std::fs::write(&file, "JUSTAWORD\n").unwrap();
        assert!(parse_env_file(&file)
            .unwrap_err()
            .problem
            .contains(":1: expected KEY=VALUE"));
    }

    #[test]
    fn the_environment_overrides_the_file_and_flags_override_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(
            &file,
            "SWITCHBOARD_LOG=debug\nSWITCHBOARD_LISTEN=127.0.0.1:1\n",
        )
        .unwrap();
        let src = Sources::gather(
            Some(&file),
            [
                ("SWITCHBOARD_LOG".to_string(), "warn".to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ],
            [("SWITCHBOARD_LISTEN".to_string(), "127.0.0.1:2".to_string())],
        )
        .unwrap();
        let c = Config::from_sources(&src).unwrap();
        assert_eq!(c.log, "warn");
        assert_eq!(c.listen.to_string(), "127.0.0.1:2");
        assert!(c.unknown_vars.is_empty());
    }
}
