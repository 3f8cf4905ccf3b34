//! The durable floor of SPEC §10: the least a verified, durable webhook must do, written
//! as plainly as possible so the appliance is measured against it in the same run.
//!
//! An actix-web handler checks `X-Twilio-Signature` (HMAC-SHA1 over the URL and the
//! sorted form parameters, compared in constant time), hands one row keyed by the random
//! CallSid to a single writer thread that commits whatever has queued up in one
//! transaction (group commit; SQLite in WAL mode with `synchronous=NORMAL`), answers after
//! that commit, and leaves checkpoints to a thread of their own, off the request path.
//! Every real product does more; nothing durable can do less.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

const TWIML: &str =
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks for calling.</Say></Response>"#;
/// Rows one commit takes at most.
const BATCH: usize = 256;

type Row = (String, String, oneshot::Sender<bool>);

struct Floor {
    token: String,
    url: String,
    rows: mpsc::SyncSender<Row>,
}

fn open(db: &Path) -> Connection {
    let conn = Connection::open(db).expect("the floor's database opens");
    conn.execute_batch(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, call_sid TEXT NOT NULL UNIQUE,
             from_number TEXT, received_at TEXT NOT NULL);",
    )
    .expect("the floor's schema");
    conn
}

/// The single writer: takes what is queued (up to [`BATCH`]), commits it at once, then
/// acknowledges every row of the batch.
fn write(mut conn: Connection, rows: mpsc::Receiver<Row>) {
    while let Ok(first) = rows.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rows.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let ok = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO calls (call_sid, from_number, received_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(call_sid) DO NOTHING",
                )?;
                let now = chrono::Utc::now().to_rfc3339();
                for (sid, from, _) in &batch {
                    insert.execute((sid, from, &now))?;
                }
            }
            tx.commit()
        })()
        .is_ok();
        for (_, _, ack) in batch {
            let _ = ack.send(ok);
        }
    }
}

/// Checkpoints off the request path: a passive pass every few milliseconds copies what
/// the writer committed, and a restart once the WAL holds 4 MiB keeps it bounded.
fn checkpoint(db: &Path) {
    let conn = open(db);
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let big = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 4 << 20);
        let mode = if big { "RESTART" } else { "PASSIVE" };
        let _ = conn.execute_batch(&format!("PRAGMA wal_checkpoint({mode})"));
    }
}

async fn voice(req: HttpRequest, body: web::Bytes, floor: web::Data<Floor>) -> HttpResponse {
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let signature = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = switchboard::domain::signature::compute(&floor.token, &floor.url, &params);
    if !switchboard::crypto::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return HttpResponse::Forbidden().finish();
    }
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let Some(sid) = get("CallSid") else {
        return HttpResponse::BadRequest().finish();
    };
    let (ack, done) = oneshot::channel();
    if floor
        .rows
        .try_send((sid, get("From").unwrap_or_default(), ack))
        .is_err()
    {
        return HttpResponse::ServiceUnavailable().finish();
    }
    match done.await {
        Ok(true) => HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body(TWIML),
        _ => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Starts the floor on a free port with its database in `dir`, signing with `token`;
/// returns the port. The server runs as a local task, like the appliance's.
pub fn start(dir: &Path, token: &str) -> u16 {
    let db = dir.join("floor.db");
    let conn = open(&db);
    let (tx, rx) = mpsc::sync_channel::<Row>(4096);
    std::thread::spawn(move || write(conn, rx));
    let checkpoint_db = db.clone();
    std::thread::spawn(move || checkpoint(&checkpoint_db));
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let floor = web::Data::new(Floor {
        token: token.to_string(),
        url: format!("http://127.0.0.1:{port}/twilio/voice"),
        rows: tx,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(floor.clone())
            .route("/twilio/voice", web::post().to(voice))
    })
    .listen(listener)
    .unwrap()
    .run();
    tokio::task::spawn_local(server);
    port
}
