//! `doctor`'s look at the built-in HTTPS (SPEC §14): the certificate (issuer, names,
//! expiry, a failing renewal) and whether the https and plain-HTTP listeners answer.

use super::Check;
use crate::config::{CertificateSource, TlsConfig};
use crate::tls::{CertInfo, Certificates, RenewalStatus};
use chrono::Utc;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The checks, or none when the built-in HTTPS is off (a reverse proxy terminates TLS).
/// `served` is the running appliance's own store (the dashboard); the command line reads
/// the certificate the appliance serves from its cache or the user's file.
pub async fn checks(
    tls: Option<&TlsConfig>,
    data_dir: &std::path::Path,
    served: Option<&Certificates>,
) -> Vec<Check> {
    let Some(tls) = tls else {
        return Vec::new();
    };
    let (info, renewal) = match served {
        Some(certs) => (certs.info(), Some(certs.renewal())),
        None => (from_disk(tls, data_dir), None),
    };
    vec![
        certificate(tls, info.as_ref(), renewal.as_ref()),
        listeners(tls).await,
    ]
}

fn from_disk(tls: &TlsConfig, data_dir: &std::path::Path) -> Option<CertInfo> {
    let (cert, key) = match &tls.certificate {
        CertificateSource::Acme { .. } => {
            (data_dir.join("tls/cert.pem"), data_dir.join("tls/key.pem"))
        }
        CertificateSource::Files { cert, key } => (cert.clone(), key.clone()),
    };
    let probe = Certificates::new(tls.https_listen, tls.http_listen);
    crate::tls::load_files(&probe, &cert, &key).ok()
}

fn certificate(tls: &TlsConfig, info: Option<&CertInfo>, renewal: Option<&RenewalStatus>) -> Check {
    const NAME: &str = "https certificate";
    let failing = renewal.and_then(|r| r.last_error.clone());
    let acme = matches!(tls.certificate, CertificateSource::Acme { .. });
    let fix_acme = "The CA must reach http://<domain>/.well-known/acme-challenge/ on port 80: point the domain's DNS at this host, open ports 80 and 443, and keep SWITCHBOARD_HTTP_LISTEN on :80 (the systemd unit may bind it). Attempts repeat with backoff; the log says each answer.";
    let Some(info) = info else {
        let detail = match failing {
            Some(e) => format!("no certificate yet: {e}"),
            None if acme => "no certificate yet: the first one is being ordered".into(),
            None => "no certificate could be read".into(),
        };
        let fix = if acme {
            fix_acme
        } else {
            "Set SWITCHBOARD_TLS_CERT_FILE and SWITCHBOARD_TLS_KEY_FILE to a readable PEM chain and its key."
        };
        return Check::fail(NAME, detail, fix);
    };
    let now = Utc::now();
    let days = (info.not_after - now).num_days();
    let described = format!(
        "issued by {} for {}, valid until {} ({days} days)",
        info.issuer,
        info.names.join(", "),
        info.not_after.format("%Y-%m-%d %H:%M UTC")
    );
    if info.not_after <= now {
        return Check::fail(
            NAME,
            format!("EXPIRED: {described}"),
            if acme {
                fix_acme
            } else {
                "Renew the certificate and replace the files; they are re-read within a minute."
            },
        );
    }
    if !info.covers(&tls.domains) {
        let missing: Vec<&str> = tls
            .domains
            .iter()
            .filter(|d| !info.names.contains(d))
            .map(String::as_str)
            .collect();
        return Check::fail(NAME, format!("{described}; it does not name {}", missing.join(", ")), "Use a certificate for every name in SWITCHBOARD_DOMAINS (ACME orders a new one by itself).");
    }
    match failing {
        Some(e) => Check::fail(
            NAME,
            format!("{described}; renewing it fails: {e}"),
            fix_acme,
        ),
        None => {
            let next = renewal
                .and_then(|r| r.next_attempt)
                .map(|t| format!("; next renewal check {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            Check::pass(NAME, format!("{described}{next}"))
        }
    }
}

/// Connects to both listeners from this host; the plain one must redirect to https.
async fn listeners(tls: &TlsConfig) -> Check {
    const NAME: &str = "https listeners";
    let https = local(tls.https_listen);
    let http = local(tls.http_listen);
    let connect =
        |addr| tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr));
    let https_ok = matches!(connect(https).await, Ok(Ok(_)));
    let redirect = plain_redirect(http).await;
    match (https_ok, redirect) {
        (true, Ok(location)) => Check::pass(
            NAME,
            format!(
                "{} answers; {} redirects to {location}",
                tls.https_listen, tls.http_listen
            ),
        ),
        (https_ok, redirect) => {
            let mut problems = Vec::new();
            if !https_ok {
                problems.push(format!(
                    "nothing answers on {} (SWITCHBOARD_HTTPS_LISTEN)",
                    tls.https_listen
                ));
            }
            if let Err(e) = redirect {
                problems.push(format!(
                    "{} (SWITCHBOARD_HTTP_LISTEN): {e}",
                    tls.http_listen
                ));
            }
            Check::fail(NAME, problems.join("; "), "Start the appliance with `switchboard serve` (the systemd unit grants CAP_NET_BIND_SERVICE for ports 80 and 443) and check that no other server holds the ports.")
        }
    }
}

/// The address to reach a listener from this host (a wildcard listens on loopback too).
fn local(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

async fn plain_redirect(addr: SocketAddr) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .map_err(|_| "nothing answers".to_string())?;
    match (resp.status().as_u16(), resp.headers().get("location")) {
        (308, Some(location)) => Ok(location.to_str().unwrap_or_default().to_string()),
        (status, _) => Err(format!("answers HTTP {status}, not a redirect to https")),
    }
}
