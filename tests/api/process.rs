//! Runs the `switchboard` binary as a user would: one command, or `serve --demo` in the
//! background. Shared by the API tests and the Litestream drill's own test binary.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary with a clean environment plus `env`.
pub fn switchboard(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_with_stdin(args, env, None)
}

/// Runs the binary (with `env`) off the async runtime, so an in-process app keeps serving
/// meanwhile.
pub async fn switchboard_async(args: &[&str], env: &[(&str, &str)]) -> Output {
    let owned = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    let args = owned(args);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        switchboard(&args, &env)
    })
    .await
    .unwrap()
}

pub fn run_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.env_clear()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// Starts `serve --demo` on a free port and returns its stdout up to the "ready" line.
pub fn start_demo(data: &str) -> (std::process::Child, String) {
    start_demo_with(data, &[])
}

/// [`start_demo`] with settings in the environment.
pub fn start_demo_with(data: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    start_demo_on(data, env, "127.0.0.1:0")
}

/// [`start_demo_with`] listening on `listen` (a fixed port survives a restart).
pub fn start_demo_on(
    data: &str,
    env: &[(&str, &str)],
    listen: &str,
) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env_clear()
        .envs(env.iter().copied())
        .args(["--data-dir", data, "serve", "--demo", "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = String::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if out.contains("ready in") => break,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(_) => {}
        }
    }
    (child, out)
}

/// The base URL `serve --demo` printed for its dashboard.
pub fn served_url(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("dashboard:"))
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .unwrap_or_else(|| panic!("no dashboard URL in {out}"))
}
