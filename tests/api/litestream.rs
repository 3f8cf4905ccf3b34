//! Off-host replication with Litestream (v0.3, from the npm package `@flydotio/litestream`
//! that `.ci/run` installs into tests/litestream): the appliance serves with
//! `SWITCHBOARD_WAL_CHECKPOINTS=litestream` while Litestream replicates to a file replica;
//! under webhook load both are killed at once, the database is restored from the replica,
//! and every webhook acknowledged longer than the sync interval before the kill is in it.

use crate::process::{served_url, start_demo_with, switchboard};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::simulator::{new_sid, Simulator, Target};

const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Litestream copies the WAL every sync interval, then writes the copy: a webhook
/// acknowledged this long before the kill may still be on its way.
const IN_FLIGHT: Duration = Duration::from_millis(1_500);
/// The load: this many callers at once, each sending a webhook at most every
/// [`LOAD_PACE`] (400 a second, some 35 million a day: far beyond any one business). As
/// fast as the appliance answers (4,000 a second and more), the WAL grew faster than
/// Litestream 0.3 copies it on a small machine, and its replica fell seconds behind:
/// a measure of Litestream's speed, not of what the appliance hands it.
const LOAD_TASKS: u32 = 8;
const LOAD_PACE: Duration = Duration::from_millis(20);

/// The Litestream binary, or `None` (the test is skipped) outside CI when not installed.
fn litestream() -> Option<PathBuf> {
    let bin = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/litestream/node_modules/@flydotio/litestream-linux-x64/litestream"
    ));
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Litestream is missing: `npm install --prefix tests/litestream @flydotio/litestream@1` (.ci/run does)"
    );
    eprintln!("skipped: Litestream is not installed in tests/litestream");
    None
}

/// The demo's sandbox Twilio account, as `switchboard config` shows it.
fn sandbox_account(data: &str) -> (String, String) {
    let out = switchboard(&["--data-dir", data, "config"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("SWITCHBOARD_{key}=")))
            .unwrap_or_else(|| panic!("{key} in {text}"))
            .to_string()
    };
    (value("TWILIO_ACCOUNT_SID"), value("TWILIO_AUTH_TOKEN"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litestream_keeps_every_webhook_acknowledged_before_its_sync_interval() {
    let Some(litestream) = litestream() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap().to_string();
    let replica = dir.path().join("replica");
    let config = dir.path().join("litestream.yml");
    std::fs::write(
        &config,
        format!(
            "dbs:\n  - path: {}\n    replicas:\n      - type: file\n        path: {}\n        sync-interval: {}s\n",
            data.join("switchboard.db").display(),
            replica.display(),
            SYNC_INTERVAL.as_secs()
        ),
    )
    .unwrap();

    let (mut appliance, out) =
        start_demo_with(&data_s, &[("SWITCHBOARD_WAL_CHECKPOINTS", "litestream")]);
    assert!(out.contains("ready in"), "{out}");
    let base = served_url(&out);
    let mut replicator = Command::new(&litestream)
        .args(["replicate", "-config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first snapshot is in the replica before the load starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !replica.join("generations").exists() {
        assert!(Instant::now() < deadline, "Litestream wrote no replica");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let sim = Simulator::new(Target {
        base: base.clone(),
        signed_base: base,
        twilio: Some(sandbox_account(&data_s)),
        vapi_secret: None,
    })
    .unwrap();
    // A voicemail whose recording the appliance keeps in its database (SPEC §13): the
    // replica must carry the audio too.
    let rec_sid = format!("RE{}", "7".repeat(32));
    for (path, params) in [
        (
            "/twilio/voice",
            vec![
                ("CallSid", "CAkeptaudio1"),
                ("From", "+14155550199"),
                ("To", "+15550100001"),
                ("CallStatus", "ringing"),
            ],
        ),
        (
            "/twilio/voice/recording",
            vec![
                ("CallSid", "CAkeptaudio1"),
                ("RecordingSid", rec_sid.as_str()),
                ("RecordingStatus", "completed"),
                ("RecordingDuration", "7"),
            ],
        ),
    ] {
        assert_eq!(
            sim.twilio(path, &params).await.unwrap().status,
            200,
            "{path}"
        );
    }
    let kept = || {
        rusqlite::Connection::open_with_flags(
            data.join("switchboard.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|db| {
            db.query_row("SELECT count(*) FROM recordings", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while kept() == 0 {
        assert!(Instant::now() < deadline, "the recording was not kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acknowledged: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut load = Vec::new();
    for task in 0..LOAD_TASKS {
        let (sim, acknowledged) = (sim.clone(), acknowledged.clone());
        load.push(tokio::spawn(async move {
            let mut pace = tokio::time::interval(LOAD_PACE);
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for i in 0.. {
                pace.tick().await;
                let sid = new_sid("CA");
                let from = format!("+1628{task}{:06}", i % 1_000_000);
                let params = [
                    ("CallSid", sid.as_str()),
                    ("From", from.as_str()),
                    ("To", "+15550100001"),
                    ("CallStatus", "ringing"),
                ];
                match sim.twilio("/twilio/voice", &params).await {
                    Ok(a) if a.status == 200 => {
                        acknowledged.lock().unwrap().push((sid, Instant::now()))
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    // The host is lost: the appliance and Litestream die at the same moment.
    appliance.kill().unwrap();
    replicator.kill().unwrap();
    let killed = Instant::now();
    let killed_at = chrono::Utc::now();
    let _ = (appliance.wait(), replicator.wait());
    for task in load {
        let _ = task.await;
    }

    // Restored as the README says: the latest copy, or, when Litestream 0.3 restored a
    // damaged one (benbjohnson/litestream#582, about one run in ten here), the copy of a
    // few seconds earlier. The webhooks acknowledged before that point must all be there.
    let restore = |name: &str, at: Option<chrono::DateTime<chrono::Utc>>| {
        let restored = dir.path().join(name);
        let mut args = vec![
            "restore".to_string(),
            "-config".into(),
            config.display().to_string(),
            "-o".into(),
            restored.display().to_string(),
        ];
        if let Some(t) = at {
            args.push("-timestamp".into());
            args.push(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        args.push(data.join("switchboard.db").display().to_string());
        let out = Command::new(&litestream).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "restore: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let db = rusqlite::Connection::open(&restored).unwrap();
        let verdict: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        (db, verdict)
    };
    let (mut db, verdict) = restore("restored.db", None);
    let mut cutoff = killed;
    // Stepping back a second at a time, as the README says, finds an intact copy.
    let mut verdict = verdict;
    for step in 1..=4u64 {
        if verdict == "ok" {
            break;
        }
        let back = Duration::from_secs(step);
        eprintln!(
            "Litestream restored a damaged copy ({verdict}); restoring the copy of {} s earlier",
            back.as_secs()
        );
        let (earlier, v) = restore(
            &format!("restored-earlier-{step}.db"),
            Some(killed_at - chrono::Duration::from_std(back).unwrap()),
        );
        (db, verdict, cutoff) = (earlier, v, killed - back);
    }
    assert_eq!(verdict, "ok", "no intact copy within 4 s before the kill");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 200,
        "only {} webhooks",
        acknowledged.len()
    );
    let before_cutoff = acknowledged.iter().filter(|(_, at)| *at <= cutoff).count();
    assert!(
        before_cutoff > 200,
        "only {before_cutoff} webhooks were acknowledged before the restore point"
    );
    let mut lost = Vec::new();
    let mut stmt = db
        .prepare("SELECT count(*) FROM calls WHERE call_sid = ?1")
        .unwrap();
    for (sid, at) in acknowledged.iter().filter(|(_, at)| *at <= cutoff) {
        let n: i64 = stmt.query_row([sid], |r| r.get(0)).unwrap();
        if n == 0 {
            lost.push(cutoff.saturating_duration_since(*at));
        }
    }
    let audio: i64 = db
        .query_row(
            "SELECT length(audio) FROM recordings r JOIN voicemails v ON v.id = r.voicemail_id WHERE v.recording_sid = ?1",
            [&rec_sid],
            |r| r.get(0),
        )
        .expect("the kept recording is in the restored database");
    assert!(audio > 44, "the audio itself ({audio} bytes)");
    // Only Litestream checkpointed: it never lost track of the WAL and had to start over
    // with a new snapshot (a new generation).
    let generations = std::fs::read_dir(replica.join("generations"))
        .unwrap()
        .count();
    assert_eq!(generations, 1, "Litestream started over");
    let oldest_lost = lost.iter().max().copied().unwrap_or_default();
    println!(
        "Litestream drill: {} webhooks acknowledged in 6 s, {} missing after the restore, \
         the oldest of them acknowledged {} ms before the restore point (sync interval {} s)",
        acknowledged.len(),
        lost.len(),
        oldest_lost.as_millis(),
        SYNC_INTERVAL.as_secs()
    );
    assert!(
        oldest_lost <= SYNC_INTERVAL + IN_FLIGHT,
        "a webhook acknowledged {oldest_lost:?} before the restore point was lost"
    );
}
