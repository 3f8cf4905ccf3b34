//! Outgoing webhooks (SPEC §13), following the Standard Webhooks specification: each
//! delivery is a POST of the event's JSON with `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the
//! endpoint's `whsec_` secret. Deliveries go in order per endpoint, at least once; a
//! failed attempt is retried after about 5 s, 5 min, 30 min, 2 h, 5 h and 10 h (with
//! jitter), then marked failed. 2xx is delivered; the timeout is 10 s; redirects are not
//! followed.
//!
//! SSRF guard: the host is resolved and every address checked before connecting (and the
//! connection goes to the checked address, so a DNS answer cannot change in between):
//! loopback, private, link-local, shared, multicast, unspecified and documentation
//! addresses (IPv4 and IPv6, mapped forms included) are refused, and the URL must be
//! https, unless `SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=true`.

use super::FrontDesk;
use crate::db::webhooks::{self, Due};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Waits after each failed attempt, the schedule common among Standard Webhooks senders.
const RETRY_SECS: [i64; 6] = [5, 300, 1800, 7200, 18000, 36000];
const TIMEOUT: Duration = Duration::from_secs(10);
/// The receiver's answer kept in the log.
const SNIPPET: usize = 300;
const SETTING: &str = "SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE";

/// A new endpoint secret, shown once: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// `v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under `secret` (`whsec_…`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|e| format!("the endpoint secret is not base64: {e}"))?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Whether an address is one a webhook must not reach (unless private targets are allowed).
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                // Benchmarking, 198.18.0.0/15; reserved, 240.0.0.0/4.
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // IPv4-compatible ::a.b.c.d and NAT64 64:ff9b::/96 of a forbidden IPv4.
                || (s[..6] == [0, 0, 0, 0, 0, 0])
                || (s[0] == 0x64 && s[1] == 0xff9b && forbidden(IpAddr::V4(std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8,
                ))))
        }
    }
}

/// Checks a webhook URL and resolves its host: the address to connect to, or why not
/// (naming the setting that allows private targets).
pub async fn check_url(
    url: &str,
    allow_private: bool,
) -> Result<(reqwest::Url, SocketAddr), String> {
    check_target(url, allow_private, SETTING).await
}

/// [`check_url`] for any URL the appliance posts to (a push endpoint too); `setting` is
/// the one that allows internal targets.
pub async fn check_target(
    url: &str,
    allow_private: bool,
    setting: &str,
) -> Result<(reqwest::Url, SocketAddr), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(format!(
                "the URL must be https (http is allowed only with {setting}=true)"
            ))
        }
        other => {
            return Err(format!(
                "'{other}:' URLs cannot receive webhooks: use https"
            ))
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "put no user name or password in the URL: the signature authenticates each delivery"
                .into(),
        );
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| "the URL has no host".to_string())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{host} has no address"))?;
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, a private, loopback, link-local or otherwise internal address: the appliance posts to public addresses only (set {setting}=true to allow internal ones)",
                bad.ip()
            ));
        }
    }
    Ok((parsed, first))
}

/// The webhook sender, for good: delivers what falls due, then sleeps until the next
/// delivery is due or an event wakes it (at most a minute).
pub async fn run(desk: std::sync::Arc<FrontDesk>) {
    loop {
        let wait = deliver_due(&desk)
            .await
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        tokio::select! {
            // Woken by new events: gather a moment's worth, so a busy line costs the
            // database a few reads a second, not one per commit.
            () = desk.webhooks.notified() => tokio::time::sleep(GATHER).await,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// How long the sender gathers events after being woken.
const GATHER: Duration = Duration::from_millis(250);

/// Sends the deliveries that fall due (the head of each endpoint's queue); answers how
/// long until the next one does.
pub async fn deliver_due(desk: &FrontDesk) -> Option<Duration> {
    let now = crate::db::format_time(desk.clock.now());
    match desk.db.write(move |c| webhooks::due(c, &now)).await {
        Ok(due) => {
            let sends = due.into_iter().map(|d| deliver(desk, d));
            futures_util::future::join_all(sends).await;
        }
        Err(e) => log::error!("webhook deliveries could not be read: {e}"),
    }
    let next = desk.db.write(webhooks::next_due).await.ok()??;
    desk.until(&next)
}

async fn deliver(desk: &FrontDesk, d: Due) {
    let endpoint = d.endpoint_id;
    let found = desk.db.query(move |c| webhooks::by_id(c, endpoint)).await;
    let Ok(Some(ep)) = found else {
        return;
    };
    let started = Instant::now();
    let (status, response, error) = match send(desk, &ep, &d).await {
        Ok((status, body)) => (Some(status), Some(body), None),
        Err(e) => (None, None, Some(e)),
    };
    let latency_ms = started.elapsed().as_millis() as i64;
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    let retry_at = (!delivered)
        .then(|| RETRY_SECS.get(d.attempts as usize))
        .flatten()
        .map(|secs| {
            // ±10 % jitter, so many failed deliveries do not come back at once.
            let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.9..1.1);
            let wait = (*secs as f64 * jitter).round() as i64;
            crate::db::format_time(desk.clock.now() + chrono::Duration::seconds(wait))
        });
    let error = error.or_else(|| {
        (!delivered).then(|| format!("the receiver answered HTTP {}", status.unwrap_or(0)))
    });
    if !delivered {
        log::warn!(
            "webhook {} to endpoint {endpoint} not delivered (attempt {}): {}{}",
            d.message_id,
            d.attempts + 1,
            error.as_deref().unwrap_or("?"),
            if retry_at.is_some() {
                "; tried again later"
            } else {
                "; marked failed"
            }
        );
    }
    let recorded = desk
        .db
        .write(move |c| {
            webhooks::record(
                c,
                &webhooks::Attempt {
                    delivery: &d,
                    status,
                    latency_ms,
                    response: response.as_deref(),
                    error: error.as_deref(),
                    delivered,
                    retry_at: retry_at.as_deref(),
                },
            )
        })
        .await;
    if let Err(e) = recorded {
        log::error!("webhook attempt to endpoint {endpoint} could not be recorded: {e}");
    }
}

/// One signed POST to the checked address: the status and the start of the answer.
async fn send(desk: &FrontDesk, ep: &webhooks::Endpoint, d: &Due) -> Result<(u16, String), String> {
    let secret = desk
        .secret_key
        .decrypt(&ep.sealed_secret, SECRET_CONTEXT)
        .map_err(|e| format!("the endpoint's secret cannot be read: {e}"))?;
    let (url, addr) = check_url(&ep.url, desk.webhooks_allow_private).await?;
    let timestamp = desk.clock.now().timestamp();
    let signature = sign(&secret, &d.message_id, timestamp, &d.payload)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let client = reqwest::Client::builder()
        .resolve(&host, addr)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("switchboard-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| {
            let mut cause = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                cause = format!("{cause}: {s}");
                source = s.source();
            }
            format!("the receiver could not be reached: {cause}")
        })?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Ok((status, body.chars().take(SNIPPET).collect()))
}

/// A call as webhooks describe it (`call.completed`, `call.missed`, `textback.sent`;
/// docs/webhooks.md).
fn call_data(
    c: &rusqlite::Connection,
    org: i64,
    call_id: i64,
) -> rusqlite::Result<Option<serde_json::Value>> {
    let Some(call) = crate::db::calls::by_id(c, call_id)? else {
        return Ok(None);
    };
    let name = |n: &Option<String>| -> rusqlite::Result<Option<String>> {
        match n {
            Some(n) => crate::db::contacts::name(c, org, n),
            None => Ok(None),
        }
    };
    Ok(Some(serde_json::json!({
        "callId": call.id,
        "callSid": call.call_sid,
        "direction": call.direction,
        "from": call.from_number,
        "fromName": name(&call.from_number)?,
        "to": call.to_number,
        "toName": name(&call.to_number)?,
        "status": call.status,
        "outcome": call.outcome,
        "durationSeconds": call.duration_seconds,
        "startedAt": call.started_at,
        "endedAt": call.ended_at,
    })))
}

/// Emits `event` about call `call_id` to the endpoints of `org` that take it, with an
/// `extra` field beside the call's (a text-back's `messageSid`).
pub fn emit_call(
    c: &rusqlite::Connection,
    org: i64,
    event: &str,
    call_id: i64,
    extra: Option<(&str, serde_json::Value)>,
) -> rusqlite::Result<usize> {
    let key = call_id.to_string();
    webhooks::emit(c, org, event, &key, &crate::db::now(), || {
        let mut data = call_data(c, org, call_id)?;
        if let (Some(data), Some((key, value))) = (data.as_mut(), extra) {
            data[key] = value;
        }
        Ok(data)
    })
}

/// The context the endpoint secrets are sealed under.
pub const SECRET_CONTEXT: &str = "webhook_endpoint.secret";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn internal_addresses_are_refused_in_every_form() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "ff02::1",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_url_is_checked_where_it_resolves_and_names_the_setting() {
        let err = check_url("https://127.0.0.1:9/hook", false)
            .await
            .unwrap_err();
        assert!(err.contains(SETTING), "{err}");
        let err = check_url("http://example.com/hook", false)
            .await
            .unwrap_err();
        assert!(err.contains("https"), "{err}");
        let err = check_url("https://user:pw@8.8.8.8/hook", false)
            .await
            .unwrap_err();
        assert!(err.contains("password"), "{err}");
        assert!(check_url("http://127.0.0.1:9/hook", true).await.is_ok());
        assert!(check_url("https://[::ffff:10.0.0.1]/x", false)
            .await
            .is_err());
    }
}
