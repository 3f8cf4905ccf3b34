//! Built-in HTTPS (SPEC §14): the certificate the appliance serves, swapped in place when it
//! is renewed (no restart, no dropped connection), and what Health and `doctor` say of it.
//! [`acme`] obtains and renews certificates; [`redirect`] is the plain-HTTP side.

pub mod acme;
pub mod redirect;

use chrono::{DateTime, Utc};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Renew this long before the certificate expires (Let's Encrypt's advice for 90-day ones).
pub const RENEW_BEFORE: chrono::Duration = chrono::Duration::days(30);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("the certificate: {0}")]
    Certificate(String),
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// What the served certificate is, in words for Health and `doctor`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertInfo {
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// `acme` (obtained here) or `file` (brought by the user).
    pub source: &'static str,
}

impl CertInfo {
    pub fn covers(&self, domains: &[String]) -> bool {
        domains.iter().all(|d| self.names.iter().any(|n| n == d))
    }

    pub fn due_for_renewal(&self, now: DateTime<Utc>) -> bool {
        self.not_after - now <= RENEW_BEFORE
    }
}

/// How obtaining or renewing the certificate is going (ACME only).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalStatus {
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// The CA's or network's answer to the last failed attempt, until one succeeds.
    pub last_error: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
    pub failures_in_a_row: u32,
}

struct Served {
    key: Arc<CertifiedKey>,
    info: CertInfo,
}

/// The certificate rustls hands every new TLS connection, replaceable while serving.
pub struct Certificates {
    served: RwLock<Option<Served>>,
    renewal: Mutex<RenewalStatus>,
    provider: Arc<CryptoProvider>,
    pub https_listen: std::net::SocketAddr,
    pub http_listen: std::net::SocketAddr,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("info", &self.info())
            .finish()
    }
}

impl Certificates {
    pub fn new(https_listen: std::net::SocketAddr, http_listen: std::net::SocketAddr) -> Self {
        Certificates {
            served: RwLock::new(None),
            renewal: Mutex::default(),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            https_listen,
            http_listen,
        }
    }

    /// Parses a PEM chain and key, checks they belong together, and serves them from the
    /// next handshake on.
    pub fn install(
        &self,
        chain_pem: &[u8],
        key_pem: &[u8],
        source: &'static str,
    ) -> Result<CertInfo, TlsError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate(format!("not a PEM certificate chain: {e}")))?;
        let first = chain
            .first()
            .ok_or_else(|| TlsError::Certificate("the PEM holds no certificate".into()))?;
        let info = describe(first, source)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::Certificate(format!("not a PEM private key: {e}")))?;
        let certified = CertifiedKey::from_der(chain, key, &self.provider).map_err(|e| {
            TlsError::Certificate(format!(
                "the private key does not go with the certificate ({e})"
            ))
        })?;
        *self.served.write().unwrap_or_else(|p| p.into_inner()) = Some(Served {
            key: Arc::new(certified),
            info: info.clone(),
        });
        Ok(info)
    }

    /// The served certificate, if there is one yet.
    pub fn info(&self) -> Option<CertInfo> {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.info.clone())
    }

    pub fn renewal(&self) -> RenewalStatus {
        self.renewal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update_renewal(&self, f: impl FnOnce(&mut RenewalStatus)) {
        f(&mut self.renewal.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The rustls configuration of the https listener: this store picks the certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        Ok(
            rustls::ServerConfig::builder_with_provider(self.provider.clone())
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(self.clone()),
        )
    }

    /// Serves the user's own certificate files and re-reads them when they change (a
    /// certbot renewal, say), checking once a minute.
    pub async fn watch_files(self: Arc<Self>, cert: PathBuf, key: PathBuf) {
        let mut seen = modified(&cert).zip(modified(&key));
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let now = modified(&cert).zip(modified(&key));
            if now == seen {
                continue;
            }
            seen = now;
            match load_files(&self, &cert, &key) {
                Ok(info) => log::info!("TLS certificate re-read from {}: valid until {}", cert.display(), info.not_after),
                Err(e) => log::error!("TLS certificate files changed but cannot be used (still serving the previous one): {e}"),
            }
        }
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads a certificate chain and key the user brings.
pub fn load_files(certs: &Certificates, cert: &Path, key: &Path) -> Result<CertInfo, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| TlsError::File {
            path: p.display().to_string(),
            problem: format!("cannot be read ({e})"),
        })
    };
    let (chain, key_pem) = (read(cert)?, read(key)?);
    certs
        .install(&chain, &key_pem, "file")
        .map_err(|e| TlsError::File {
            path: cert.display().to_string(),
            problem: e.to_string(),
        })
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.key.clone())
    }
}

/// Issuer, DNS names and validity of a DER certificate.
fn describe(der: &CertificateDer<'_>, source: &'static str) -> Result<CertInfo, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| TlsError::Certificate(format!("cannot be read as X.509: {e}")))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).unwrap_or_default()
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push(dns.to_ascii_lowercase());
            }
        }
    }
    Ok(CertInfo {
        issuer: cert.issuer().to_string(),
        names,
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        source,
    })
}
