//! The binary itself: configuration errors, `config`, `user`, `migrate`, `healthcheck`.

use crate::helpers::{client, spawn_app};
use crate::process::{run_with_stdin, switchboard, switchboard_async};
use std::process::{Command, Output, Stdio};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_setting_fails_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cases = [
        (
            vec![("SWITCHBOARD_LISTEN", "localhost")],
            "SWITCHBOARD_LISTEN",
        ),
        (
            vec![("SWITCHBOARD_TRUST_PROXY", "sometimes")],
            "SWITCHBOARD_TRUST_PROXY",
        ),
        (
            vec![("SWITCHBOARD_RATE_API_PER_MIN", "0")],
            "SWITCHBOARD_RATE_API_PER_MIN",
        ),
        (
            vec![("SWITCHBOARD_PUBLIC_URL", "phones.example.com")],
            "SWITCHBOARD_PUBLIC_URL",
        ),
        (
            vec![("SWITCHBOARD_TWILIO_AUTH_TOKEN_FILE", "/nonexistent/token")],
            "SWITCHBOARD_TWILIO_AUTH_TOKEN_FILE",
        ),
        (
            vec![("SWITCHBOARD_SECRET_KEY", "too-short")],
            "SWITCHBOARD_SECRET_KEY",
        ),
    ];
    for (env, var) in cases {
        let mut env = env.clone();
        env.push(("SWITCHBOARD_DATA_DIR", data));
        let out = switchboard(&["serve", "--demo"], &env);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(78), "{var}: {stderr}");
        assert!(stderr.contains(var), "stderr should name {var}: {stderr}");
    }
}

#[test]
fn serve_without_demo_refuses_to_start_without_public_url_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = switchboard(&["--data-dir", dir.path().to_str().unwrap(), "serve"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr.contains("SWITCHBOARD_PUBLIC_URL"), "{stderr}");
    assert!(stderr.contains("serve --demo"), "{stderr}");
}

#[test]
fn a_config_file_is_read_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.env");
    std::fs::write(&file, "SWITCHBOARD_LOG=debug\nSWITCHBOARD_PUBLIC_URL=https://from-file.example\nSWITCHBOARD_VAPI_WEBHOOK_SECRET=file-secret\n").unwrap();
    let out = switchboard(
        &["--config", file.to_str().unwrap(), "config"],
        &[
            ("SWITCHBOARD_LOG", "warn"),
            ("SWITCHBOARD_DATA_DIR", dir.path().to_str().unwrap()),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("SWITCHBOARD_LOG=warn\n"), "{stdout}");
    assert!(
        stdout.contains("SWITCHBOARD_PUBLIC_URL=https://from-file.example\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SWITCHBOARD_VAPI_WEBHOOK_SECRET=(set, redacted)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("file-secret"),
        "secrets are never printed: {stdout}"
    );
}

#[test]
fn user_add_creates_an_org_and_a_user_who_can_then_be_reset() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = switchboard(
        &[
            "--data-dir",
            data,
            "user",
            "add",
            "--email",
            "Boss@Example.com",
            "--role",
            "owner",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("--org"),
        "with no org yet, the error says to pass --org"
    );

    let out = run_with_stdin(
        &[
            "--data-dir",
            data,
            "user",
            "add",
            "--email",
            "Boss@Example.com",
            "--role",
            "owner",
            "--org",
            "Acme Plumbing",
            "--password-stdin",
        ],
        &[],
        Some("a-long-enough-password\n"),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("created owner boss@example.com in \"Acme Plumbing\""),
        "{stdout}"
    );
    assert!(
        !stdout.contains("password:"),
        "a password from stdin is not echoed"
    );

    let out = switchboard(
        &[
            "--data-dir",
            data,
            "user",
            "add",
            "--email",
            "staff@example.com",
            "--role",
            "viewer",
        ],
        &[],
    );
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    let generated = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed");
    assert_eq!(generated.len(), 20);

    let dup = switchboard(
        &[
            "--data-dir",
            data,
            "user",
            "add",
            "--email",
            "staff@example.com",
            "--role",
            "viewer",
        ],
        &[],
    );
    assert!(text(&dup).1.contains("already exists"));

    let weak = run_with_stdin(
        &[
            "--data-dir",
            data,
            "user",
            "reset-password",
            "--email",
            "staff@example.com",
            "--password-stdin",
        ],
        &[],
        Some("short\n"),
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(text(&weak).1.contains("at least 10 characters"));

    let reset = switchboard(
        &[
            "--data-dir",
            data,
            "user",
            "reset-password",
            "--email",
            "staff@example.com",
        ],
        &[],
    );
    let (stdout, _) = text(&reset);
    assert!(reset.status.success());
    let new_password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap();
    assert_ne!(new_password, generated);

    let conn = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
    let audited: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE actor = 'cli'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 3);
}

#[test]
fn migrate_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let first = switchboard(&["--data-dir", data, "migrate"], &[]);
    assert!(first.status.success());
    assert!(text(&first).0.contains("from schema version 0 to"));
    let second = switchboard(&["--data-dir", data, "migrate"], &[]);
    assert!(second.status.success());
    assert!(text(&second).0.contains("(current)"));
}

#[test]
fn version_prints_the_crate_version() {
    let out = switchboard(&["--version"], &[]);
    assert_eq!(
        text(&out).0.trim(),
        format!("switchboard {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn healthcheck_exits_zero_only_when_the_appliance_answers() {
    let app = spawn_app().await;
    let ok = switchboard_async(&["healthcheck", "--url", &app.address], &[]).await;
    assert!(ok.status.success(), "{:?}", text(&ok));
    let listen = format!("127.0.0.1:{}", app.port);
    let via_listen = switchboard_async(&["healthcheck"], &[("SWITCHBOARD_LISTEN", &listen)]).await;
    assert!(via_listen.status.success(), "{:?}", text(&via_listen));
    // A port nobody listens on.
    let dead = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let bad = switchboard_async(&["healthcheck", "--url", &dead], &[]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(client()
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
}

#[test]
fn the_packaged_example_settings_file_is_valid() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/switchboard.env.example"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = switchboard(
        &[
            "--config",
            example,
            "--data-dir",
            dir.path().to_str().unwrap(),
            "config",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("SWITCHBOARD_PUBLIC_URL=https://phones.example.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SWITCHBOARD_DOMAINS=phones.example.com")
            && stdout.contains("SWITCHBOARD_HTTPS_LISTEN=0.0.0.0:443"),
        "the example serves https itself: {stdout}"
    );
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/switchboard.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/switchboard serve"));
    assert!(unit.contains("EnvironmentFile=/etc/switchboard/switchboard.env"));
    assert!(unit.contains("NoNewPrivileges=yes"));
    assert!(unit.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
}

#[test]
fn output_cut_short_by_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .args(["--data-dir", dir.path().to_str().unwrap(), "config"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line is written (`switchboard config | head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

#[test]
fn block_adds_lists_and_removes_callers_with_an_audit_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--data-dir", data];
        all.extend_from_slice(args);
        let out = switchboard(&all, &[]);
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };
    let (code, _, _) = run(&[
        "user",
        "add",
        "--email",
        "o@acme.example",
        "--role",
        "owner",
        "--org",
        "Acme",
    ]);
    assert_eq!(code, Some(0));
    let (code, stdout, stderr) = run(&[
        "block",
        "add",
        "--number",
        "+1 415 555 0123",
        "--note",
        "robocaller",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("blocked +14155550123"), "{stdout}");
    let (code, stdout, _) = run(&["block", "add", "--number", "+14155550123"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("already blocked"), "{stdout}");
    let (code, _, _) = run(&["block", "add", "--prefix", "+1900"]);
    assert_eq!(code, Some(0));
    let (code, _, stderr) = run(&["block", "add", "--prefix", "1900"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("--prefix") && stderr.contains("like +1900"),
        "{stderr}"
    );
    let (_, stdout, _) = run(&["block", "list"]);
    assert!(stdout.contains("+14155550123\trobocaller\tcli"), "{stdout}");
    assert!(stdout.contains("+1900…"), "{stdout}");
    let (code, stdout, _) = run(&["block", "remove", "--number", "+14155550123"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("no longer blocked"), "{stdout}");
    let (code, _, stderr) = run(&["block", "remove", "--number", "+14155550123"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not blocked"), "{stderr}");
    let db = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
    let actions: Vec<String> = db
        .prepare("SELECT action FROM audit_log WHERE actor = 'cli' AND action LIKE 'blocklist.%' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        actions,
        ["blocklist.add", "blocklist.add", "blocklist.remove"]
    );
}
