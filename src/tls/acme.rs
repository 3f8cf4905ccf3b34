//! Certificates from an ACME CA (Let's Encrypt by default; SPEC §14) with HTTP-01: the
//! plain-HTTP listener answers the CA's challenge, the certificate is cached in
//! `<data dir>/tls/` (mode 600) and renewed 30 days before it expires, with backoff after a
//! failure, while the old one keeps being served.

use super::{CertInfo, Certificates, TlsError};
use crate::config::CertificateSource;
use bytes::Bytes;
use chrono::Utc;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// After a failure the next attempt waits this long, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// A certificate that is fine is looked at again this often (so a clock jump or a shorter
/// certificate than expected is noticed).
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);

/// HTTP-01 answers waiting for the CA: token → key authorization.
#[derive(Debug, Default)]
pub struct Challenges(RwLock<HashMap<String, String>>);

impl Challenges {
    pub fn answer(&self, token: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    fn set(&self, token: String, key_authorization: String) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token, key_authorization);
    }

    fn clear(&self) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("the ACME CA answered: {0}")]
    Acme(#[from] instant_acme::Error),
    #[error("{0}")]
    Order(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the certificate cache {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },
}

/// Obtains and renews the certificate for `domains` from `directory`.
pub struct Acme {
    pub domains: Vec<String>,
    directory: String,
    email: Option<String>,
    http: reqwest::Client,
    cache: PathBuf,
    pub challenges: Arc<Challenges>,
    certs: Arc<Certificates>,
}

impl Acme {
    /// Prepares the ACME client and serves a cached certificate at once, if there is one
    /// for these names (it is renewed in the background if it is due).
    pub fn new(
        source: &CertificateSource,
        domains: Vec<String>,
        data_dir: &std::path::Path,
        certs: Arc<Certificates>,
    ) -> Result<Acme, TlsError> {
        let CertificateSource::Acme {
            directory,
            ca_file,
            email,
        } = source
        else {
            unreachable!("Acme::new is called for an ACME certificate source");
        };
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| TlsError::File {
                path: path.display().to_string(),
                problem: format!("SWITCHBOARD_ACME_CA_FILE cannot be read ({e})"),
            })?;
            let roots =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| TlsError::File {
                    path: path.display().to_string(),
                    problem: format!("SWITCHBOARD_ACME_CA_FILE is not a PEM bundle ({e})"),
                })?;
            for root in roots {
                http = http.add_root_certificate(root);
            }
        }
        let http = http.build().map_err(|e| {
            TlsError::Certificate(format!("cannot build the ACME HTTP client: {e}"))
        })?;
        let acme = Acme {
            domains,
            directory: directory.clone(),
            email: email.clone(),
            http,
            cache: data_dir.join("tls"),
            challenges: Arc::default(),
            certs,
        };
        acme.load_cached();
        Ok(acme)
    }

    fn cert_path(&self) -> PathBuf {
        self.cache.join("cert.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.cache.join("key.pem")
    }

    /// The account is per CA: switching from staging to production makes a new one.
    fn account_path(&self) -> PathBuf {
        let id = crate::crypto::token_hash(&self.directory);
        self.cache.join(format!("account-{}.json", &id[..16]))
    }

    fn load_cached(&self) {
        let (Ok(chain), Ok(key)) = (
            std::fs::read(self.cert_path()),
            std::fs::read(self.key_path()),
        ) else {
            return;
        };
        match self.certs.install(&chain, &key, "acme") {
            Ok(info) if info.covers(&self.domains) => {
                log::info!(
                    "serving the cached certificate for {} (valid until {})",
                    info.names.join(", "),
                    info.not_after
                );
            }
            Ok(info) => log::info!(
                "the cached certificate is for {} but the domains are {}: a new one is ordered",
                info.names.join(", "),
                self.domains.join(", ")
            ),
            Err(e) => log::warn!(
                "the cached certificate in {} cannot be used ({e}): a new one is ordered",
                self.cache.display()
            ),
        }
    }

    /// Keeps a valid certificate for good: obtains one now if there is none (or it does not
    /// name every domain, or is due), then sleeps until it is due again.
    pub async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let current = self.certs.info();
            let wait = match current.filter(|c| c.covers(&self.domains)) {
                Some(info) if !info.due_for_renewal(Utc::now()) => until_due(&info),
                _ => {
                    let started = Utc::now();
                    self.certs
                        .update_renewal(|s| s.last_attempt = Some(started));
                    match self.obtain().await {
                        Ok(info) => {
                            log::info!(
                                "certificate for {} obtained from {} (valid until {})",
                                info.names.join(", "),
                                self.directory,
                                info.not_after
                            );
                            backoff = FIRST_BACKOFF;
                            self.certs.update_renewal(|s| {
                                s.last_success = Some(Utc::now());
                                s.last_error = None;
                                s.failures_in_a_row = 0;
                            });
                            // A CA issuing certificates shorter than the renewal window must
                            // not make this loop order one after another.
                            until_due(&info).max(Duration::from_secs(3600))
                        }
                        Err(e) => {
                            let wait = backoff;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            log::error!("could not obtain a certificate for {} from {}: {e}; trying again in {} s", self.domains.join(", "), self.directory, wait.as_secs());
                            self.certs.update_renewal(|s| {
                                s.last_error = Some(e.to_string());
                                s.failures_in_a_row += 1;
                            });
                            wait
                        }
                    }
                }
            };
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            self.certs.update_renewal(|s| s.next_attempt = Some(next));
            tokio::time::sleep(wait).await;
        }
    }

    async fn account(&self) -> Result<Account, AcmeError> {
        let path = self.account_path();
        let builder = || Account::builder_with_http(Box::new(ReqwestHttp(self.http.clone())));
        if let Ok(text) = std::fs::read_to_string(&path) {
            match serde_json::from_str::<AccountCredentials>(&text) {
                Ok(credentials) => return Ok(builder().from_credentials(credentials).await?),
                Err(e) => log::warn!(
                    "{} cannot be read ({e}); a new ACME account is made",
                    path.display()
                ),
            }
        }
        let contact = self.email.as_ref().map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory.clone(),
                None,
            )
            .await?;
        let json = serde_json::to_vec(&credentials)
            .map_err(|e| AcmeError::Order(format!("cannot store the ACME account: {e}")))?;
        self.write_private(&path, &json)?;
        Ok(account)
    }

    fn write_private(&self, path: &std::path::Path, content: &[u8]) -> Result<(), AcmeError> {
        std::fs::create_dir_all(&self.cache).map_err(|source| AcmeError::Cache {
            path: self.cache.display().to_string(),
            source,
        })?;
        // Written beside it, then renamed over it: a crash leaves the old file or the new
        // one, never half of either.
        let fresh = path.with_extension("new");
        let _ = std::fs::remove_file(&fresh);
        crate::crypto::write_private_file(&fresh, content)
            .and_then(|()| std::fs::rename(&fresh, path))
            .map_err(|source| AcmeError::Cache {
                path: path.display().to_string(),
                source,
            })
    }

    /// One order: HTTP-01 for every name, a new key and CSR, the issued chain; cached and
    /// served before it returns.
    async fn obtain(&self) -> Result<CertInfo, AcmeError> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(AcmeError::Order(format!(
                        "the CA's authorization for {:?} is {other:?}",
                        authz.identifier().identifier
                    )))
                }
            }
            let mut challenge = authz
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| AcmeError::Order("the CA offers no HTTP-01 challenge".into()))?;
            self.challenges.set(
                challenge.token.clone(),
                challenge.key_authorization().as_str().to_string(),
            );
            challenge.set_ready().await?;
        }
        let retries = RetryPolicy::new().timeout(Duration::from_secs(120));
        let status = order.poll_ready(&retries).await;
        self.challenges.clear();
        match status? {
            OrderStatus::Ready => {}
            other => {
                let detail = order
                    .state()
                    .error
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                return Err(AcmeError::Order(format!(
                    "the order is {other:?}, not ready: {detail} (is port 80 of {} reachable from the internet and forwarded to SWITCHBOARD_HTTP_LISTEN?)",
                    self.domains.join(", ")
                )));
            }
        }
        let key_pem = order.finalize().await?;
        let chain_pem = order.poll_certificate(&retries).await?;
        let info = self
            .certs
            .install(chain_pem.as_bytes(), key_pem.as_bytes(), "acme")?;
        self.write_private(&self.key_path(), key_pem.as_bytes())?;
        self.write_private(&self.cert_path(), chain_pem.as_bytes())?;
        Ok(info)
    }
}

/// How long until `info` is due for renewal, at most [`CHECK_EVERY`].
fn until_due(info: &CertInfo) -> Duration {
    (info.not_after - super::RENEW_BEFORE - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO)
        .min(CHECK_EVERY)
}

/// instant-acme's requests sent with the appliance's own HTTP client (rustls, and the
/// extra roots of `SWITCHBOARD_ACME_CA_FILE`).
struct ReqwestHttp(reqwest::Client);

impl HttpClient for ReqwestHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            let body = http_body_util::BodyExt::collect(&mut body)
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_else(|never| match never {});
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut builder = http::Response::builder().status(resp.status());
            if let Some(headers) = builder.headers_mut() {
                headers.extend(resp.headers().clone());
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let (parts, ()) = builder.body(())?.into_parts();
            Ok(BytesResponse {
                parts,
                body: Box::new(bytes),
            })
        })
    }
}
