//! Email notices (SPEC §12) against a real SMTP server started by the test: PyPI's
//! `aiosmtpd`, storing what it receives in a maildir that Python's own `email` package
//! reads back. One voicemail makes one email with its transcript and its recording attached,
//! however often Twilio repeats its callbacks; a mail server that is down is retried, shown
//! on Health meanwhile, and delivered once it is up.
//! Skipped with a message when aiosmtpd is missing, except under CI=true (`.ci/run`
//! installs it into `tests/py/venv`).

use crate::helpers::{free_port, spawn_app_with, TestApp, CALLER, MAIN_LINE};
use crate::two_factor::python_with;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A valid recording SID (the sandbox serves audio for one).
const RECORDING: &str = "RE0123456789abcdef0123456789abcdef";

struct Smtp {
    child: Child,
    maildir: tempfile::TempDir,
    python: String,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// aiosmtpd on `port`, answering once it accepts connections.
    async fn start(python: &str, port: u16) -> Smtp {
        let maildir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir(maildir.path().join(sub)).unwrap();
        }
        let mut child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
                maildir.path().to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Smtp {
                    child,
                    maildir,
                    python: python.to_string(),
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not listen on {port}");
    }

    /// Every message received, as Python's `email` package reads it.
    fn received(&self) -> Vec<Value> {
        let script = r#"
import json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=True):
    text = html = None
    attachments = []
    for part in m.walk():
        ct = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            attachments.append({"type": ct, "name": part.get_filename(), "size": len(part.get_payload(decode=True) or b"")})
        elif ct == "text/plain":
            text = part.get_payload(decode=True).decode()
        elif ct == "text/html":
            html = part.get_payload(decode=True).decode()
    out.append({"subject": m["subject"], "to": m["to"], "from": m["from"], "text": text, "html": html, "attachments": attachments})
print(json.dumps(out))
"#;
        let out = Command::new(&self.python)
            .args(["-c", script, self.maildir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Up to a minute: a delivery retried after the server came up may wait out a backoff
    /// step (5 s, then 10 s, 20 s) on a loaded machine.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..600 {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the mail server never got {count} message(s)");
    }
}

async fn app_sending_to(port: u16) -> TestApp {
    let url = format!("smtp://127.0.0.1:{port}");
    spawn_app_with(&[
        ("SWITCHBOARD_SMTP_URL", &url),
        (
            "SWITCHBOARD_SMTP_FROM",
            "Demo Plumbing <phones@demo-plumbing.example>",
        ),
        ("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0"),
    ])
    .await
}

#[tokio::test]
async fn a_voicemail_makes_one_email_with_its_transcript_and_recording_despite_repeats() {
    let Some(python) = python_with("aiosmtpd") else {
        return;
    };
    let port = free_port();
    let smtp = Smtp::start(&python, port).await;
    let app = app_sending_to(port).await;
    let tw = app.twilio();
    tw.call("CAMAIL1", CALLER, MAIN_LINE).await;
    tw.press("CAMAIL1", 1, "9").await;
    // Twilio repeats callbacks: the recording and the transcript arrive twice each.
    for _ in 0..2 {
        tw.recording("CAMAIL1", RECORDING, "17").await;
        tw.post(
            "/twilio/voice/transcription",
            &[
                ("CallSid", "CAMAIL1"),
                ("RecordingSid", RECORDING),
                ("TranscriptionStatus", "completed"),
                (
                    "TranscriptionText",
                    "Hi, my sink is leaking & the floor is wet <help>",
                ),
            ],
        )
        .await;
    }
    smtp.wait_for(1).await;
    // Time for a second email, had the repeated callbacks made one, to arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "exactly one email: {mails:?}");
    let m = &mails[0];
    assert_eq!(m["subject"], "Voicemail from (415) 555-0123 on Main line");
    assert_eq!(m["to"], app.owner_email.as_str());
    assert!(m["from"]
        .as_str()
        .unwrap()
        .contains("phones@demo-plumbing.example"));
    let text = m["text"].as_str().unwrap();
    assert!(
        text.contains("(415) 555-0123 left a 17 s voicemail on Main line."),
        "{text}"
    );
    assert!(
        text.contains("\"Hi, my sink is leaking & the floor is wet <help>\""),
        "{text}"
    );
    let voicemail = app.text(
        "SELECT CAST(v.id AS TEXT) FROM voicemails v JOIN calls c ON c.id = v.call_id WHERE c.call_sid = ?1",
        "CAMAIL1",
    );
    assert!(
        text.contains(&format!("{}/#voicemail/{voicemail}", app.address)),
        "{text}"
    );
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("&amp; the floor is wet &lt;help&gt;"),
        "escaped: {html}"
    );
    let attachments = m["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{m}");
    assert!(
        attachments[0]["type"]
            .as_str()
            .unwrap()
            .starts_with("audio/"),
        "{m}"
    );
    assert!(
        attachments[0]["size"].as_u64().unwrap() > 44,
        "the audio itself: {m}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'sent'"),
        1
    );
}

#[tokio::test]
async fn a_mail_server_that_is_down_is_retried_shown_on_health_then_delivered() {
    let Some(python) = python_with("aiosmtpd") else {
        return;
    };
    // A broken mail server holds the port meanwhile (it hangs up on every connection), so
    // no other test's listener can take the port before aiosmtpd does.
    let broken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = broken.local_addr().unwrap().port();
    broken.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let hanging_up = std::thread::spawn(move || {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            match broken.accept() {
                Ok((conn, _)) => drop(conn),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let app = app_sending_to(port).await;
    let api = app.owner_api().await;
    // The owner chose missed-call emails too; a viewer who chose nothing gets none.
    let prefs = api
        .put(
            "/api/me/notifications",
            json!({ "email": { "missedCall": true } }),
        )
        .await;
    assert_eq!(prefs.status(), 200);
    let prefs: Value = prefs.json().await.unwrap();
    assert_eq!(
        prefs["email"],
        json!({ "voicemail": true, "lead": true, "missedCall": true, "summary": false })
    );
    let org = switchboard::demo::DEMO_ORG.to_string();
    app.add_user(
        &org,
        "viewer@demo-plumbing.example",
        switchboard::domain::UserRole::Viewer,
    );

    // The mail server hangs up: a missed call's email fails and waits.
    app.twilio().missed_call("CAMAIL2", "+14155550199").await;
    let mut health = Value::Null;
    for _ in 0..300 {
        health = api.get("/api/health").await;
        if health["email"]["retrying"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health["email"]["retrying"], 1, "{health}");
    assert!(
        health["email"]["lastError"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{health}"
    );
    assert!(
        health["warnings"]
            .to_string()
            .contains("Email notices are not getting through"),
        "{health}"
    );

    // The server comes up; the next attempt (5 s after the first, then backing off)
    // delivers it, once.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    hanging_up.join().unwrap();
    let smtp = Smtp::start(&python, port).await;
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0]["subject"],
        "Missed call from (415) 555-0199 on Main line"
    );
    assert_eq!(mails[0]["to"], app.owner_email.as_str());
    // The server has it; the appliance records it as sent once the SMTP reply is in.
    app.wait_count("SELECT count(*) FROM outbox WHERE status = 'sent'", 1)
        .await;
    let health = api.get("/api/health").await;
    assert_eq!(health["email"]["sent"], 1, "{health}");
    assert_eq!(health["email"]["retrying"], 0, "{health}");
    assert!(
        !health["warnings"].to_string().contains("Email notices"),
        "{health}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE recipient = 'viewer@demo-plumbing.example'"),
        0
    );
}

/// Settings → Notifications in Chromium: the owner's defaults, a choice that is saved.
#[tokio::test]
async fn in_the_browser_a_user_chooses_which_emails_they_get() {
    use crate::browser::{click, signed_in_at, wait_text_with, wait_visible_text};
    let app = app_sending_to(free_port()).await;
    let Some((_driver, c)) = signed_in_at(&app, "#settings").await else {
        return;
    };
    let status = wait_text_with(&c, "#notify-status", "Emails go to").await;
    assert!(status.contains(&app.owner_email), "{status}");
    let checked = c
        .execute(
            "return [...document.querySelectorAll('#notify-email input')].map((i) => [i.dataset.event, i.checked]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        checked,
        json!([
            ["voicemail", true],
            ["lead", true],
            ["missedCall", false],
            ["summary", false]
        ]),
        "an owner's defaults"
    );
    click(&c, "#notify-email input[data-event='missedCall']").await;
    wait_visible_text(&c, "#notify-saved").await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notification_prefs WHERE event = 'missed_call' AND enabled = 1"
        ),
        1
    );
    c.close().await.unwrap();
}
