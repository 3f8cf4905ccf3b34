//! Recordings kept here (SPEC §13), with wiremock as Twilio: after the recording callback
//! (delivered twice) the audio is downloaded once, played from here with range requests,
//! and Twilio's copy deleted once; a failing delete is retried and shown on Health; the
//! org can keep Twilio's copy; the retention deletes recordings and transcripts, audited.

use crate::helpers::{
    spawn_real, Api, TestApp, REAL_MASTER_SID, REAL_MASTER_TOKEN, REAL_PUBLIC_URL,
};
use serde_json::{json, Value};
use switchboard::simulator::{Simulator, Target};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LINE: &str = "+14155550191";
const CALLER: &str = "+14155550123";

fn audio() -> Vec<u8> {
    let mut a = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    a.extend((0..4000u32).map(|i| (i % 251) as u8));
    a
}

fn sid(n: u32) -> String {
    format!("RE{n:032x}")
}

async fn setup(twilio: &MockServer) -> (TestApp, Api, Simulator) {
    let vapi = MockServer::start().await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    app.add_real_number(LINE, "PN19191919191919191919191919191919");
    let api = app.owner_api().await;
    let sim = app.simulator(Some((REAL_MASTER_SID.into(), REAL_MASTER_TOKEN.into())));
    let sim = Simulator::new(Target {
        signed_base: REAL_PUBLIC_URL.into(),
        ..sim.target().clone()
    })
    .unwrap();
    (app, api, sim)
}

fn recording_path(rec: &str, ext: &str) -> String {
    format!("/2010-04-01/Accounts/{REAL_MASTER_SID}/Recordings/{rec}.{ext}")
}

/// Twilio serving a recording's audio.
fn serves_audio(rec: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(recording_path(rec, "mp3")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(audio(), "audio/mpeg"))
}

/// Twilio answering the delete of a recording with `answer`.
fn deletes(rec: &str, answer: ResponseTemplate) -> Mock {
    Mock::given(method("DELETE"))
        .and(path(recording_path(rec, "json")))
        .respond_with(answer)
}

async fn leave_voicemail(sim: &Simulator, call: &str, rec: &str, times: usize) {
    let ok = sim
        .twilio(
            "/twilio/voice",
            &[
                ("CallSid", call),
                ("From", CALLER),
                ("To", LINE),
                ("CallStatus", "ringing"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    for _ in 0..times {
        let r = sim
            .twilio(
                "/twilio/voice/recording",
                &[
                    ("CallSid", call),
                    ("RecordingSid", rec),
                    ("RecordingStatus", "completed"),
                    ("RecordingDuration", "9"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn a_recording_is_downloaded_once_played_from_here_and_deleted_at_twilio() {
    let twilio = MockServer::start().await;
    let rec = sid(1);
    serves_audio(&rec).expect(1).mount(&twilio).await;
    deletes(&rec, ResponseTemplate::new(204))
        .expect(1)
        .mount(&twilio)
        .await;
    let (app, api, sim) = setup(&twilio).await;
    leave_voicemail(&sim, "CAkeep0001", &rec, 2).await;
    app.wait_count(
        "SELECT count(*) FROM voicemails WHERE twilio_deleted_at IS NOT NULL",
        1,
    )
    .await;
    let vms = api.get("/api/voicemails").await;
    let vm = &vms["voicemails"][0];
    assert_eq!(vm["kept"], true, "{vm}");
    assert!(vm["twilioDeletedAt"].is_string(), "{vm}");
    let id = vm["id"].as_i64().unwrap();

    // Played from here: whole, and in ranges as players seek.
    let url = app.url(&format!("/api/voicemails/{id}/recording"));
    let whole = api.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-type"], "audio/mpeg");
    assert_eq!(whole.bytes().await.unwrap().to_vec(), audio());
    let part = api
        .client
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{}", audio().len()).as_str()
    );
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        audio()[10..20].to_vec()
    );
    let tail = api
        .client
        .get(&url)
        .header("Range", "bytes=-5")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap().len(), 5);
    let beyond = api
        .client
        .get(&url)
        .header("Range", "bytes=999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    // wiremock checks on drop: one download, one delete, though Twilio called back twice.
}

#[tokio::test]
async fn a_failing_delete_is_retried_and_shown_on_health_and_an_org_may_keep_twilios_copy() {
    let twilio = MockServer::start().await;
    let (rec, kept_there) = (sid(2), sid(3));
    for r in [&rec, &kept_there] {
        serves_audio(r).mount(&twilio).await;
    }
    deletes(
        &rec,
        ResponseTemplate::new(500).set_body_json(
            json!({ "code": 20500, "message": "Internal Server Error", "status": 500 }),
        ),
    )
    .mount(&twilio)
    .await;
    let (app, api, sim) = setup(&twilio).await;
    leave_voicemail(&sim, "CAkeep0002", &rec, 1).await;
    app.wait_count(
        "SELECT count(*) FROM voicemails WHERE keep_error IS NOT NULL AND keep_due_at IS NOT NULL",
        1,
    )
    .await;
    let health = api.get("/api/health").await;
    assert_eq!(
        health["recordings"]["stored"], 1,
        "kept here though Twilio's copy stays"
    );
    assert_eq!(health["recordings"]["failing"], 1);
    assert!(
        health["warnings"]
            .to_string()
            .contains("deleting Twilio's copy failed"),
        "{health}"
    );
    // Twilio recovers; the retry (brought forward) deletes it and the warning goes.
    twilio.reset().await;
    deletes(&rec, ResponseTemplate::new(204))
        .expect(1)
        .mount(&twilio)
        .await;
    app.db()
        .conn()
        .unwrap()
        .execute("UPDATE voicemails SET keep_due_at = '2000-01-01T00:00:00.000Z' WHERE keep_due_at IS NOT NULL", [])
        .unwrap();
    app.state.desk.notices_queued();
    app.wait_count(
        "SELECT count(*) FROM voicemails WHERE twilio_deleted_at IS NOT NULL AND keep_error IS NULL",
        1,
    )
    .await;
    assert!(!api.get("/api/health").await["warnings"]
        .to_string()
        .contains("Recordings are not"));

    // An org that keeps Twilio's copy: downloaded, never deleted there.
    let r = api
        .patch("/api/org", json!({ "deleteRecordingsAtTwilio": false }))
        .await;
    assert_eq!(r.status(), 200);
    serves_audio(&kept_there).mount(&twilio).await;
    leave_voicemail(&sim, "CAkeep0003", &kept_there, 1).await;
    app.wait_count("SELECT count(*) FROM recordings", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let deletes = twilio
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE" && r.url.path().contains(&kept_there))
        .count();
    assert_eq!(deletes, 0);
}

#[tokio::test]
async fn the_retention_deletes_old_recordings_and_transcripts_and_says_so() {
    let twilio = MockServer::start().await;
    let rec = sid(4);
    serves_audio(&rec).mount(&twilio).await;
    deletes(&rec, ResponseTemplate::new(204))
        .mount(&twilio)
        .await;
    let (app, api, sim) = setup(&twilio).await;
    let bad = api
        .patch("/api/org", json!({ "recordingRetentionDays": 0 }))
        .await;
    assert_eq!(bad.status(), 400);
    let r = api
        .patch("/api/org", json!({ "recordingRetentionDays": 30 }))
        .await;
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["org"]["recordingRetentionDays"], 30);
    leave_voicemail(&sim, "CAkeep0004", &rec, 1).await;
    sim.twilio(
        "/twilio/voice/transcription",
        &[
            ("CallSid", "CAkeep0004"),
            ("RecordingSid", rec.as_str()),
            ("TranscriptionText", "Please call me about the boiler"),
            ("TranscriptionStatus", "completed"),
        ],
    )
    .await
    .unwrap();
    app.wait_count("SELECT count(*) FROM recordings", 1).await;
    // Not yet 30 days old: kept.
    let now = chrono::Utc::now();
    assert_eq!(
        switchboard::frontdesk::recordings::purge_expired(&app.state.desk, now)
            .await
            .unwrap(),
        0
    );
    // 31 days on: deleted, the voicemail says when, and the audit log says who.
    let later = now + chrono::Duration::days(31);
    assert_eq!(
        switchboard::frontdesk::recordings::purge_expired(&app.state.desk, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM recordings"), 0);
    let vm = &api.get("/api/voicemails").await["voicemails"][0];
    assert!(vm["purgedAt"].is_string(), "{vm}");
    assert_eq!(vm["transcriptionText"], Value::Null);
    assert_eq!(vm["kept"], false);
    let id = vm["id"].as_i64().unwrap();
    let gone = api
        .client
        .get(app.url(&format!("/api/voicemails/{id}/recording")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'recordings.purged' AND actor = 'retention'"),
        1
    );
}
