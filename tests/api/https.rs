//! Built-in HTTPS (SPEC §14) against a real ACME CA: Debian's `pebble`, with
//! `pebble-challtestsrv` answering its DNS (every name is 127.0.0.1), validating HTTP-01 for
//! real on the appliance's plain-HTTP listener. Then: a TLS client that trusts only pebble's
//! issuing root reaches `/healthz` under the right name, a signed Twilio webhook to the
//! https `PUBLIC_URL` is answered, port 80 redirects, a certificate about to expire is
//! renewed while serving, and a certificate the user brings (made here with rcgen) is served.
//! Skipped with a message when pebble is missing, except under CI=true (`.ci/run` installs it).

use crate::helpers::{free_port, spawn_app_with, spawn_in, TestApp};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const DOMAIN: &str = "phones.switchboard.test";

/// A CA made for the test, and certificates it signs.
struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// A leaf for `names` (IP addresses become IP SANs), valid until `days` from now.
    fn leaf(&self, names: &[&str], days: i64) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for n in names {
            params.subject_alt_names.push(match n.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*n).try_into().unwrap()),
            });
        }
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let until = chrono::Utc::now() + chrono::Duration::days(days);
        use chrono::Datelike;
        params.not_after =
            rcgen::date_time_ymd(until.year(), until.month() as u8, until.day() as u8);
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// pebble and its DNS, stopped when dropped.
struct Pebble {
    children: Vec<Child>,
    _dir: tempfile::TempDir,
    directory: String,
    ca_file: PathBuf,
    tls_ca: String,
    management: u16,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn installed() -> bool {
    let found =
        Path::new("/usr/bin/pebble").exists() && Path::new("/usr/bin/pebble-challtestsrv").exists();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but pebble is missing: .ci/run must install Debian's pebble package"
        );
        eprintln!("skipped: install Debian's pebble package (apt-get install pebble) to test ACME");
    }
    found
}

impl Pebble {
    /// pebble validating HTTP-01 on `http_port` (the appliance's plain-HTTP listener).
    async fn start(http_port: u16) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("pebble test listener CA");
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"], 30);
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca.pem).unwrap();
        let (acme, management, dns) = (free_port(), free_port(), free_port());
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let quiet = |c: &mut Command| {
            c.stdout(Stdio::null()).stderr(Stdio::null());
        };
        let mut challtest = Command::new("/usr/bin/pebble-challtestsrv");
        challtest.args([
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{}", free_port()),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]);
        quiet(&mut challtest);
        let mut pebble = Command::new("/usr/bin/pebble");
        pebble
            .args([
                "-config",
                config_path.to_str().unwrap(),
                "-dnsserver",
                &format!("127.0.0.1:{dns}"),
            ])
            .env("PEBBLE_VA_NOSLEEP", "1")
            // Real CAs do not refuse good nonces at random; pebble does 5% by default.
            .env("PEBBLE_WFE_NONCEREJECT", "0");
        quiet(&mut pebble);
        let children = vec![
            challtest.spawn().expect("pebble-challtestsrv starts"),
            pebble.spawn().expect("pebble starts"),
        ];
        let p = Pebble {
            children,
            _dir: dir,
            directory: format!("https://127.0.0.1:{acme}/dir"),
            ca_file,
            tls_ca: ca.pem,
            management,
        };
        let client = p.client();
        for _ in 0..100 {
            if client
                .get(&p.directory)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("pebble did not answer at {}", p.directory);
    }

    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.tls_ca.as_bytes()).unwrap())
            .build()
            .unwrap()
    }

    /// The root pebble issues certificates under (made anew each time pebble starts).
    async fn issuing_root(&self) -> String {
        let url = format!("https://127.0.0.1:{}/roots/0", self.management);
        self.client()
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    fn settings(&self, https: u16, http: u16) -> Vec<(&'static str, String)> {
        vec![
            ("SWITCHBOARD_DOMAINS", DOMAIN.to_string()),
            ("SWITCHBOARD_HTTPS_LISTEN", format!("127.0.0.1:{https}")),
            ("SWITCHBOARD_HTTP_LISTEN", format!("127.0.0.1:{http}")),
            ("SWITCHBOARD_ACME_DIRECTORY", self.directory.clone()),
            (
                "SWITCHBOARD_ACME_CA_FILE",
                self.ca_file.display().to_string(),
            ),
            ("SWITCHBOARD_ACME_EMAIL", "ops@switchboard.test".to_string()),
        ]
    }
}

/// A client that trusts only `root_pem` and reaches `name` at the appliance's https port.
fn trusting(root_pem: &str, name: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(name, SocketAddr::from(([127, 0, 0, 1], port)))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `/healthz` over https under `name`, once the client accepts the certificate (up to 60 s).
async fn wait_for_https(client: &reqwest::Client, name: &str, port: u16) -> reqwest::Response {
    let url = format!("https://{name}:{port}/healthz");
    let mut last = None;
    for _ in 0..300 {
        match client.get(&url).send().await {
            Ok(resp) => return resp,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("https never answered with a certificate the client trusts: {last:?}");
}

/// The renewal's state once `done` holds for it, or after 10 s (the caller's assertions
/// then say what it was).
async fn renewal_once(
    certs: &switchboard::tls::Certificates,
    done: impl Fn(&switchboard::tls::RenewalStatus) -> bool,
) -> switchboard::tls::RenewalStatus {
    for _ in 0..100 {
        let renewal = certs.renewal();
        if done(&renewal) {
            return renewal;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    certs.renewal()
}

fn with<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn owner_json(app: &TestApp, path: &str) -> Value {
    app.owner_api().await.get(path).await
}

#[tokio::test]
async fn a_certificate_from_a_real_acme_ca_serves_webhooks_over_https_and_port_80_redirects() {
    if !installed() {
        return;
    }
    let (https, http) = (free_port(), free_port());
    let pebble = Pebble::start(http).await;
    let settings = pebble.settings(https, http);
    let app = spawn_app_with(&with(&settings)).await;
    let public_url = format!("https://{DOMAIN}:{https}");
    assert_eq!(
        app.state.public_url, public_url,
        "PUBLIC_URL defaults to the first domain"
    );

    let root = pebble.issuing_root().await;
    let client = trusting(&root, DOMAIN, https);
    let resp = wait_for_https(&client, DOMAIN, https).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("strict-transport-security").unwrap(),
        "max-age=31536000"
    );
    // The certificate names the domain: a client asking for another name refuses it.
    let other = trusting(&root, "other.switchboard.test", https);
    assert!(other
        .get(format!("https://other.switchboard.test:{https}/healthz"))
        .send()
        .await
        .is_err());

    // A Twilio webhook signed for the https PUBLIC_URL is answered over https.
    let token = app.state.accounts.master().cloned().unwrap();
    let params: Vec<(String, String)> = [
        ("AccountSid", token.account_sid.as_str()),
        ("CallSid", "CAhttps0000000000000000000000000001"),
        ("From", "+14155550177"),
        ("To", switchboard::demo::DEMO_NUMBERS[0].0),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let url = format!("{public_url}/twilio/voice");
    let signature = switchboard::domain::signature::compute(&token.auth_token, &url, &params);
    let resp = client
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("<Response>"));
    // A forged one is still refused.
    let resp = client
        .post(&url)
        .header("X-Twilio-Signature", "forged")
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Port 80: a 308 to the same path and query over https, only ever to our own name.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for host in [DOMAIN.to_string(), "evil.example".to_string()] {
        let resp = plain
            .post(format!("http://127.0.0.1:{http}/twilio/voice?x=1&y=2"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 308);
        assert_eq!(
            resp.headers().get("location").unwrap(),
            &format!("https://{DOMAIN}:{https}/twilio/voice?x=1&y=2")
        );
    }
    let unknown = plain
        .get(format!(
            "http://127.0.0.1:{http}/.well-known/acme-challenge/nope"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Health and the checks say who issued it, for which names, until when.
    let health = owner_json(&app, "/api/health").await;
    let cert = &health["https"]["certificate"];
    assert_eq!(cert["names"], serde_json::json!([DOMAIN]), "{health}");
    assert!(
        cert["issuer"].as_str().unwrap().contains("Pebble"),
        "{cert}"
    );
    assert_eq!(health["https"]["renewal"]["lastError"], Value::Null);
    let doctor = owner_json(&app, "/api/doctor").await;
    let checks = doctor["checks"].as_array().unwrap();
    for name in ["https certificate", "https listeners"] {
        let check = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {doctor}"));
        assert_eq!(check["verdict"], "pass", "{check}");
    }
    // The key and the account are cached for the owner only.
    for file in ["cert.pem", "key.pem"] {
        let mode = std::fs::metadata(app.data_dir.path().join("tls").join(file)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600, "{file}");
    }
    let accounts = std::fs::read_dir(app.data_dir.path().join("tls"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("account-")
        })
        .count();
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn a_certificate_about_to_expire_is_renewed_without_a_restart() {
    if !installed() {
        return;
    }
    let (https, http) = (free_port(), free_port());
    let pebble = Pebble::start(http).await;
    // The cache holds a certificate for the domain that expires in 5 days.
    let data_dir = tempfile::tempdir().unwrap();
    let old_ca = TestCa::new("expiring soon CA");
    let (seeded, key) = old_ca.leaf(&[DOMAIN], 5);
    std::fs::create_dir_all(data_dir.path().join("tls")).unwrap();
    std::fs::write(data_dir.path().join("tls/cert.pem"), &seeded).unwrap();
    std::fs::write(data_dir.path().join("tls/key.pem"), key).unwrap();

    let settings = pebble.settings(https, http);
    let app = spawn_in(data_dir, &with(&settings)).await;
    // At start the cached certificate is served (ordering a new one takes several round
    // trips to the CA and its validation of port 80).
    let certs = app.state.tls.clone().unwrap();
    assert!(certs.info().unwrap().issuer.contains("expiring soon CA"));

    // Renewed in the background; the same running appliance now serves pebble's.
    let root = pebble.issuing_root().await;
    let client = trusting(&root, DOMAIN, https);
    assert_eq!(wait_for_https(&client, DOMAIN, https).await.status(), 200);
    let info = certs.info().unwrap();
    assert!(info.issuer.contains("Pebble"), "{info:?}");
    assert!(
        info.not_after - chrono::Utc::now() > chrono::Duration::days(30),
        "{info:?}"
    );
    // The new certificate is served the moment it is issued; writing it to the cache and
    // recording the renewal follow a moment later.
    let renewal = renewal_once(&certs, |r| r.last_success.is_some()).await;
    assert!(
        renewal.last_success.is_some() && renewal.last_error.is_none(),
        "{renewal:?}"
    );
    assert!(
        renewal.next_attempt.unwrap() > chrono::Utc::now(),
        "the next check is in the future"
    );
    let on_disk = std::fs::read_to_string(app.data_dir.path().join("tls/cert.pem")).unwrap();
    assert_ne!(on_disk, seeded, "the cache holds the renewed certificate");
}

#[tokio::test]
async fn a_certificate_the_user_brings_is_served_and_a_wrong_key_stops_start_up() {
    let ca = TestCa::new("our own CA");
    let (cert, key) = ca.leaf(&["byo.switchboard.test"], 90);
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let (https, http) = (free_port(), free_port());
    let settings = vec![
        ("SWITCHBOARD_DOMAINS", "byo.switchboard.test".to_string()),
        ("SWITCHBOARD_TLS_CERT_FILE", cert_file.display().to_string()),
        ("SWITCHBOARD_TLS_KEY_FILE", key_file.display().to_string()),
        ("SWITCHBOARD_HTTPS_LISTEN", format!("127.0.0.1:{https}")),
        ("SWITCHBOARD_HTTP_LISTEN", format!("127.0.0.1:{http}")),
    ];
    let app = spawn_app_with(&with(&settings)).await;
    let client = trusting(&ca.pem, "byo.switchboard.test", https);
    let resp = wait_for_https(&client, "byo.switchboard.test", https).await;
    assert_eq!(resp.status(), 200);
    let health = owner_json(&app, "/api/health").await;
    assert_eq!(health["https"]["certificate"]["source"], "file");
    assert!(health["https"]["certificate"]["issuer"]
        .as_str()
        .unwrap()
        .contains("our own CA"));

    // A key that is not the certificate's: start-up stops and names the file.
    let (_, other_key) = ca.leaf(&["byo.switchboard.test"], 90);
    std::fs::write(&key_file, other_key).unwrap();
    let mut settings = settings;
    settings[3].1 = format!("127.0.0.1:{}", free_port());
    settings[4].1 = format!("127.0.0.1:{}", free_port());
    let data = tempfile::tempdir().unwrap();
    let src = crate::helpers::sources(data.path(), &with(&settings));
    let config = switchboard::config::Config::from_sources(&src).unwrap();
    let err = match switchboard::startup::Application::build(config).await {
        Ok(_) => panic!("a key that does not match its certificate must stop start-up"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("fullchain.pem")
            && err.contains("private key does not go with the certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_ca_that_cannot_be_reached_is_shown_on_health_and_in_the_checks_while_retrying() {
    let (https, http) = (free_port(), free_port());
    let settings = vec![
        ("SWITCHBOARD_DOMAINS", DOMAIN.to_string()),
        ("SWITCHBOARD_HTTPS_LISTEN", format!("127.0.0.1:{https}")),
        ("SWITCHBOARD_HTTP_LISTEN", format!("127.0.0.1:{http}")),
        // Nothing listens here.
        (
            "SWITCHBOARD_ACME_DIRECTORY",
            format!("https://127.0.0.1:{}/dir", free_port()),
        ),
    ];
    let app = spawn_app_with(&with(&settings)).await;
    let certs = app.state.tls.clone().unwrap();
    let renewal = renewal_once(&certs, |r| r.last_error.is_some()).await;
    assert_eq!(renewal.failures_in_a_row, 1, "{renewal:?}");
    let retry_in = renewal.next_attempt.unwrap() - chrono::Utc::now();
    assert!(
        retry_in > chrono::Duration::seconds(30) && retry_in <= chrono::Duration::seconds(60),
        "backs off: {retry_in}"
    );

    let health = owner_json(&app, "/api/health").await;
    assert_eq!(health["https"]["certificate"], Value::Null);
    assert!(
        health["https"]["renewal"]["lastError"]
            .as_str()
            .unwrap()
            .contains("ACME"),
        "{health}"
    );
    let warnings = health["warnings"].to_string();
    assert!(
        warnings.contains("HTTPS certificate could not be obtained"),
        "{warnings}"
    );
    let doctor = owner_json(&app, "/api/doctor").await;
    let check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "https certificate")
        .unwrap()
        .clone();
    assert_eq!(check["verdict"], "fail");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .starts_with("no certificate yet:"),
        "{check}"
    );
    assert!(
        check["fix"].as_str().unwrap().contains("port 80"),
        "{check}"
    );
    // The plain side redirects meanwhile; https has no certificate to offer yet.
    let listeners = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "https listeners")
        .unwrap()
        .clone();
    assert_eq!(listeners["verdict"], "pass", "{listeners}");

    // The Overview's appliance card says it in words.
    let Some((_driver, c)) = crate::browser::signed_in_at(&app, "").await else {
        return;
    };
    let shown = crate::browser::wait_text_with(&c, "#health-https", "renewal failing").await;
    assert!(shown.starts_with("none yet; renewal failing:"), "{shown}");
    c.close().await.unwrap();
}
