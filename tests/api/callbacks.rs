//! "Call back" from the business number (SPEC §12): Twilio (wiremock) is asked to ring the
//! user's own mobile from the business number; the owner's leg hears who is called and
//! dials the customer with the business number as caller ID; the callback is an outbound
//! call on the Calls page with each side's outcome.

use crate::helpers::{
    expect_error, spawn_app, spawn_real, Api, MAIN_LINE, OWNER_MOBILE, REAL_MASTER_SID,
    REAL_MASTER_TOKEN, REAL_PUBLIC_URL,
};
use serde_json::{json, Value};
use switchboard::domain::UserRole;
use switchboard::simulator::{Simulator, Target};
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LINE: &str = "+14155550181";
const LINE_SID: &str = "PN18181818181818181818181818181818";
const CUSTOMER: &str = "+14155550123";
const MOBILE: &str = "+14155550199";
const LEG: &str = "CA7e57ca11bac0000000000000000000001";

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn place(api: &Api, body: Value) -> reqwest::Response {
    api.post("/api/callbacks", body).await
}

#[tokio::test]
async fn a_callback_rings_the_users_mobile_then_dials_the_customer_from_the_business_number() {
    let twilio = MockServer::start().await;
    let vapi = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/2010-04-01/Accounts/{REAL_MASTER_SID}/Calls.json"
        )))
        .and(basic_auth(REAL_MASTER_SID, REAL_MASTER_TOKEN))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "sid": LEG, "status": "queued" })),
        )
        .expect(1)
        .mount(&twilio)
        .await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    app.add_real_number(LINE, LINE_SID);
    let api = app.owner_api().await;

    // Without a mobile on file there is nobody to ring first.
    let none = place(&api, json!({ "to": "(415) 555-0123" })).await;
    let body = expect_error(none, 409, "mobile_required").await;
    assert_eq!(body["field"], "mobile");

    // The user sets their mobile as people type it.
    let me = api
        .patch("/api/me", json!({ "mobile": "(415) 555-0199" }))
        .await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["mobile"], MOBILE);
    assert_eq!(me["mobileDisplay"], "(415) 555-0199");

    let placed = place(&api, json!({ "to": "(415) 555-0123" })).await;
    assert_eq!(placed.status(), 201);
    let placed: Value = placed.json().await.unwrap();
    let id = placed["callback"]["id"].as_i64().unwrap();
    assert_eq!(placed["callback"]["userStatus"], "ringing");
    assert_eq!(placed["callback"]["businessNumber"], LINE);
    assert_eq!(placed["call"]["direction"], "outbound");
    assert_eq!(placed["call"]["fromNumber"], LINE);
    assert_eq!(placed["call"]["toNumber"], CUSTOMER);
    assert_eq!(placed["call"]["callSid"], LEG);

    // Exactly the form Twilio's Calls.json takes.
    let requests = twilio.received_requests().await.unwrap();
    let sent = form(&requests[0].body);
    let get = |k: &str| {
        sent.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("To"), Some(MOBILE));
    assert_eq!(get("From"), Some(LINE));
    assert_eq!(
        get("Url"),
        Some(format!("{REAL_PUBLIC_URL}/twilio/callback/answer?callback={id}").as_str())
    );
    assert_eq!(
        get("StatusCallback"),
        Some(format!("{REAL_PUBLIC_URL}/twilio/callback/status?callback={id}").as_str())
    );
    assert_eq!(get("Method"), Some("POST"));
    assert_eq!(get("StatusCallbackMethod"), Some("POST"));
    assert_eq!(get("MachineDetection"), Some("Enable"));
    assert_eq!(get("Timeout"), Some("25"));

    // Twilio signs its requests for the PUBLIC_URL.
    let sim = app.simulator(Some((REAL_MASTER_SID.into(), REAL_MASTER_TOKEN.into())));
    let sim = Simulator::new(Target {
        signed_base: REAL_PUBLIC_URL.into(),
        ..sim.target().clone()
    })
    .unwrap();
    let leg = [
        ("CallSid", LEG),
        ("From", LINE),
        ("To", MOBILE),
        ("Direction", "outbound-api"),
        ("AnsweredBy", "human"),
        ("CallStatus", "in-progress"),
    ];
    let answer = format!("/twilio/callback/answer?callback={id}");
    let twiml = sim.twilio(&answer, &leg).await.unwrap();
    assert_eq!(twiml.status, 200, "{}", twiml.body);
    let body = &twiml.body;
    assert!(
        body.contains("Calling back 4 1 5, 5 5 5, 0 1 2 3.</Say>"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            r#"<Dial action="/twilio/callback/dial?callback={id}" timeout="30" answerOnBridge="true" callerId="{LINE}"><Number>{CUSTOMER}</Number></Dial>"#
        )),
        "{body}"
    );
    // A redelivery answers the same and records nothing twice.
    let again = sim.twilio(&answer, &leg).await.unwrap();
    assert_eq!(&again.body, body);

    let dial = sim
        .twilio(
            &format!("/twilio/callback/dial?callback={id}"),
            &[
                ("CallSid", LEG),
                ("DialCallStatus", "completed"),
                ("DialCallDuration", "95"),
            ],
        )
        .await
        .unwrap();
    assert!(dial.body.contains("<Hangup/>"), "{}", dial.body);
    let status = sim
        .twilio(
            &format!("/twilio/callback/status?callback={id}"),
            &[
                ("CallSid", LEG),
                ("CallStatus", "completed"),
                ("CallDuration", "120"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status.status, 200);

    // On the Calls page: an outbound call, connected, with its duration and who placed it.
    let calls = api.get("/api/calls").await;
    let call = &calls["calls"][0];
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["outcome"], "connected");
    assert_eq!(call["durationSeconds"], 120);
    assert_eq!(call["callback"]["placedBy"], app.owner_email.as_str());
    assert_eq!(call["callback"]["userStatus"], "answered");
    assert_eq!(call["callback"]["customerStatus"], "answered");
    assert_eq!(call["callback"]["customerSeconds"], 95);
    let detail = api.get(&format!("/api/calls/{}", call["id"])).await;
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "callback.placed",
            "callback.user_answered",
            "callback.customer",
            "call.ended"
        ]
    );
    let listed = api.get("/api/callbacks").await;
    assert_eq!(listed["callbacks"][0]["id"], id);
    // The customer's history carries the callback: it is the last call with this number.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM calls WHERE to_number = '{CUSTOMER}' AND direction = 'outbound'"
        )),
        1
    );
}

#[tokio::test]
async fn callbacks_refuse_what_cannot_work_and_say_why() {
    let app = spawn_app().await;
    let api = app.owner_api().await;
    // The demo owner's mobile is the org's notification number.
    let me = api.get("/api/me").await;
    assert_eq!(me["user"]["mobile"], OWNER_MOBILE);

    // A number nobody could dial is refused at the field.
    let bad = place(&api, json!({ "to": "call me maybe" })).await;
    let body = expect_error(bad, 400, "invalid_field").await;
    assert_eq!(body["field"], "to");
    // A call of another org is not found.
    let other = place(&api, json!({ "to": "+15550100777", "callId": 999999 })).await;
    expect_error(other, 404, "not_found").await;

    // The sandbox places it as Twilio would.
    let ok = place(&api, json!({ "to": "+15550100777" })).await;
    assert_eq!(ok.status(), 201);
    let ok: Value = ok.json().await.unwrap();
    let placed = app.sandbox().placed_calls();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].call.to, OWNER_MOBILE);
    assert_eq!(placed[0].call.from, MAIN_LINE);
    let id = ok["callback"]["id"].as_i64().unwrap();
    let sid = ok["call"]["callSid"].as_str().unwrap().to_string();

    // A voicemail greeting answering the user's phone is hung up on: the customer is
    // never dialled into the user's voicemail.
    let tw = app.twilio();
    let path = format!("/twilio/callback/answer?callback={id}");
    let machine = tw
        .twiml(
            &path,
            &[("CallSid", &sid), ("AnsweredBy", "machine_end_beep")],
        )
        .await;
    assert!(
        machine.ends_with("<Response><Hangup/></Response>"),
        "{machine}"
    );
    assert_eq!(
        app.text(
            "SELECT user_status FROM callbacks WHERE id = ?1",
            &id.to_string()
        ),
        "machine"
    );
    // Another call cannot answer for this callback.
    let wrong = tw
        .post(
            &path,
            &[("CallSid", "CA_someone_else"), ("AnsweredBy", "human")],
        )
        .await;
    assert_eq!(wrong.status(), 400);
    // A forged request is refused before anything is read.
    let forged = reqwest::Client::new()
        .post(app.url(&path))
        .header("X-Twilio-Signature", "bm9wZQ==")
        .form(&[("CallSid", sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // Twilio refusing the user's own number (a magic test number) is a 502 that says so,
    // and the callback is kept as failed.
    let me = api
        .patch("/api/me", json!({ "mobile": "+15005550001" }))
        .await;
    assert_eq!(me.status(), 200);
    let refused = place(&api, json!({ "to": "+15550100777" })).await;
    let body = expect_error(refused, 502, "provider_error").await;
    assert!(
        body["message"].as_str().unwrap().contains("21217"),
        "{body}"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM callbacks WHERE user_status = 'failed' AND error LIKE '%21217%'"
        ),
        1
    );

    // Each callback rings two phones: a user may place a handful a minute.
    api.patch("/api/me", json!({ "mobile": OWNER_MOBILE }))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            place(&api, json!({ "to": "+15550100777" }))
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // A viewer looks but does not call.
    let (viewer, csrf) = app
        .user_client(
            switchboard::demo::DEMO_ORG,
            "tech@demo.example",
            UserRole::Viewer,
        )
        .await;
    let viewer = Api::new(viewer, csrf, &app.address);
    let refused = place(&viewer, json!({ "to": "+15550100777" })).await;
    expect_error(refused, 403, "read_only").await;
}

#[tokio::test]
async fn me_takes_a_mobile_quiet_hours_and_a_summary_hour_and_refuses_bad_ones() {
    let app = spawn_app().await;
    let api = app.owner_api().await;
    let ok = api
        .patch(
            "/api/me",
            json!({ "quietHours": { "start": "21:00", "end": "7:30" }, "summaryHour": 7 }),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let ok: Value = ok.json().await.unwrap();
    assert_eq!(
        ok["quietHours"],
        json!({ "start": "21:00", "end": "07:30" })
    );
    assert_eq!(ok["summaryHour"], 7);
    // The mobile was left alone; it is still the org's notification number.
    assert_eq!(ok["mobile"], OWNER_MOBILE);
    for (body, field) in [
        (
            json!({ "quietHours": { "start": "9pm", "end": "07:00" } }),
            "quietHours.start",
        ),
        (
            json!({ "quietHours": { "start": "07:00", "end": "07:00" } }),
            "quietHours.end",
        ),
        (json!({ "summaryHour": 24 }), "summaryHour"),
        (json!({ "mobile": "12" }), "mobile"),
    ] {
        let bad = api.patch("/api/me", body.clone()).await;
        let err = expect_error(bad, 400, "invalid_field").await;
        assert_eq!(err["field"], field, "{body}");
    }
    // Clearing the mobile clears the org's notification number too: they are one number.
    let cleared = api
        .patch("/api/me", json!({ "mobile": null, "quietHours": null }))
        .await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["mobile"], Value::Null);
    assert_eq!(cleared["quietHours"], Value::Null);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM orgs WHERE notification_number IS NOT NULL AND is_demo = 1"
        ),
        0
    );
    // And the other way: the Business settings' notification number is the owner's mobile.
    let org = api
        .patch("/api/org", json!({ "notificationNumber": "555-0100-188" }))
        .await;
    assert_eq!(org.status(), 200, "{}", org.text().await.unwrap());
    let me = api.get("/api/me").await;
    assert_eq!(me["user"]["mobile"], "+15550100188");
}
