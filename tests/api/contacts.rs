//! Contacts (SPEC §13): names per organization, shown in place of the bare number in every
//! list and timeline, in notices and the screening whisper; a contact's whole history;
//! CSV import checked line by line; CSV and vCard export; and in Chromium, a caller named
//! from the Calls page.

use crate::helpers::{expect_error, spawn_app, spawn_app_with, Api, CALLER, MAIN_LINE};
use crate::screening::leg_answers;
use serde_json::{json, Value};
use switchboard::domain::UserRole;

const JANE: &str = "/api/contacts/(415)%20555-0123";

async fn put(api: &Api, path: &str, body: Value) -> reqwest::Response {
    api.put(path, body).await
}

#[tokio::test]
async fn a_named_caller_is_named_in_lists_timelines_and_kept_to_their_org() {
    let app = spawn_app().await;
    let api = app.owner_api().await;
    let created = put(&api, JANE, json!({ "name": "Jane Smith", "tags": ["VIP", "landlord", "vip"], "notes": "Gate code 1234" })).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        created["contact"]["number"], CALLER,
        "stored in E.164 as typed"
    );
    assert_eq!(created["contact"]["tags"], json!(["vip", "landlord"]));
    let again = put(
        &api,
        &format!("/api/contacts/{}", CALLER.replace('+', "%2B")),
        json!({ "name": "Jane Smith" }),
    )
    .await;
    assert_eq!(again.status(), 200, "the same number is the same contact");

    let tw = app.twilio();
    tw.missed_call("CAcontact1", CALLER).await;
    tw.sms("SMcontact1", CALLER, MAIN_LINE, "Are you open Sunday?")
        .await;
    let calls = api.get("/api/calls").await;
    let call = &calls["calls"][0];
    assert_eq!(call["fromNumberName"], "Jane Smith", "{call}");
    assert_eq!(call["fromNumberDisplay"], "(415) 555-0123");
    let leads = api.get("/api/leads").await;
    assert_eq!(leads["leads"][0]["customerNumberName"], "Jane Smith");
    let detail = api.get(&format!("/api/calls/{}", call["id"])).await;
    assert_eq!(detail["call"]["fromNumberName"], "Jane Smith");

    // Her page: everything with her number, newest first, paged.
    let page = api.get(JANE).await;
    assert_eq!(page["contact"]["name"], "Jane Smith");
    let kinds: Vec<&str> = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["call", "text", "lead"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let first = api.get(&format!("{JANE}?limit=1")).await;
    assert_eq!(first["history"].as_array().unwrap().len(), 1);
    let before = first["nextBefore"].as_str().unwrap();
    let rest = api
        .get(&format!("{JANE}?before={}", before.replace(':', "%3A")))
        .await;
    assert_eq!(
        rest["history"].as_array().unwrap().len() + 1,
        kinds.len(),
        "paging loses nothing"
    );

    // Search and tags.
    assert_eq!(
        api.get("/api/contacts?q=smi").await["contacts"][0]["name"],
        "Jane Smith"
    );
    assert_eq!(
        api.get("/api/contacts?tag=vip").await["contacts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(api.get("/api/contacts?q=zzz").await["contacts"]
        .as_array()
        .unwrap()
        .is_empty());

    // Another business neither sees her nor her name.
    let (c, csrf) = app
        .user_client("Other Plumbing", "other@other.example", UserRole::Owner)
        .await;
    let other = Api::new(c, csrf, &app.address);
    assert!(other.get("/api/contacts").await["contacts"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(other.get(JANE).await["contact"], Value::Null);
    assert!(other.get(JANE).await["history"]
        .as_array()
        .unwrap()
        .is_empty());

    // Bad input says what to fix; a viewer looks but does not change.
    let bad = put(&api, JANE, json!({ "name": "  " })).await;
    assert_eq!(
        expect_error(bad, 400, "invalid_field").await["field"],
        "name"
    );
    let bad = put(&api, "/api/contacts/12", json!({ "name": "X" })).await;
    assert_eq!(
        expect_error(bad, 400, "invalid_field").await["field"],
        "number"
    );
    let (c, csrf) = app
        .user_client(
            switchboard::demo::DEMO_ORG,
            "look@demo.example",
            UserRole::Viewer,
        )
        .await;
    let viewer = Api::new(c, csrf, &app.address);
    expect_error(
        put(&viewer, JANE, json!({ "name": "Jay" })).await,
        403,
        "read_only",
    )
    .await;
    assert_eq!(viewer.get(JANE).await["contact"]["name"], "Jane Smith");

    let gone = api.delete(JANE).await;
    assert_eq!(gone.status(), 204);
    assert_eq!(api.delete(JANE).await.status(), 404);
    assert!(api.get("/api/calls").await["calls"][0]
        .get("fromNumberName")
        .is_none());
}

#[tokio::test]
async fn a_screened_call_and_the_owners_notice_say_the_contacts_name() {
    let app = spawn_app_with(&[]).await;
    let api = app.owner_api().await;
    put(&api, JANE, json!({ "name": "Jane Smith" })).await;
    let tw = app.twilio();
    tw.call("CAcontactS", CALLER, MAIN_LINE).await;
    tw.press("CAcontactS", 1, "1").await;
    let whisper = leg_answers(
        &app,
        "screen=1&option=1",
        "CAcontactS",
        "CALEGS",
        "+15550100101",
    )
    .await;
    assert!(
        whisper.contains("<Say>Call for Demo Plumbing, sales, from Jane Smith.</Say>"),
        "{whisper}"
    );
    // The owner's text about her new conversation names her.
    tw.sms("SMcontactN", CALLER, MAIN_LINE, "Hello again").await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'notification' AND status = 'sent'",
        1,
    )
    .await;
    let owner = crate::helpers::sent_to(&app, crate::helpers::OWNER_MOBILE);
    assert!(
        owner[0].starts_with("New lead from Jane Smith, (415) 555-0123 on Main line"),
        "{owner:?}"
    );
}

#[tokio::test]
async fn an_import_is_all_or_nothing_and_names_each_bad_line_and_exports_read_back() {
    let app = spawn_app().await;
    let api = app.owner_api().await;
    let send = |body: &'static str| {
        api.client
            .post(app.url("/api/contacts/import"))
            .header("x-csrf-token", &api.csrf)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let bad = send("name,number,tags\nJane Smith,(415) 555-0123,vip\n,(415) 555-0124,\nBob,12,\n")
        .await
        .unwrap();
    let err = expect_error(bad, 422, "invalid_rows").await;
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("line 3: name"), "{message}");
    assert!(message.contains("line 4: number"), "{message}");
    assert!(
        api.get("/api/contacts").await["contacts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing half-imported"
    );

    let good = send("Name,Phone,Notes,Tags\r\n\"Smith, Jane\",(415) 555-0123,\"=cmd|' /C calc'!A0\",vip;landlord\r\nBob Jones,+442079460958,,\r\n")
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let r: Value = good.json().await.unwrap();
    assert_eq!(r, json!({ "imported": 2, "created": 2, "updated": 0 }));

    let csv = api
        .client
        .get(app.url("/api/contacts?format=csv"))
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("number,name,notes,tags\r\n"), "{text}");
    assert!(text.contains("\"Smith, Jane\""), "quoted: {text}");
    assert!(text.contains("'=cmd"), "a formula is neutralised: {text}");
    assert!(text.contains("'+14155550123"), "{text}");

    let vcf = api
        .client
        .get(app.url("/api/contacts"))
        .header("accept", "text/vcard")
        .send()
        .await
        .unwrap();
    assert!(vcf.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vcard"));
    let cards = vcf.text().await.unwrap();
    assert_eq!(cards.matches("BEGIN:VCARD").count(), 2);
    assert!(cards.contains("FN:Smith\\, Jane\r\n"), "{cards}");
    assert!(cards.contains("tel:+442079460958"), "{cards}");
}

/// In Chromium: name a caller from the Calls page, and the name shows in the list.
#[tokio::test]
async fn in_the_browser_a_caller_is_named_from_the_calls_page() {
    use crate::browser::{click, signed_in_at, type_into, wait_text_with, wait_visible_text};
    let app = spawn_app().await;
    app.twilio().missed_call("CAnameme1", CALLER).await;
    let id = app.count("SELECT id FROM calls WHERE call_sid = 'CAnameme1'");
    let Some((_driver, c)) = signed_in_at(&app, &format!("#calls/{id}")).await else {
        return;
    };
    click(&c, "#call-contact a.contact-page").await;
    let title = wait_visible_text(&c, "#contact-title").await;
    assert!(title.contains("not named yet"), "{title}");
    type_into(&c, "#contact-name", "Jane Smith").await;
    type_into(&c, "#contact-tags", "vip, landlord").await;
    click(&c, "#contact-save").await;
    wait_visible_text(&c, "#contact-saved").await;
    let history = wait_visible_text(&c, "#contact-history").await;
    assert!(history.contains("Call from them"), "{history}");
    c.goto(&app.url("/#calls")).await.unwrap();
    let table = wait_text_with(&c, "#calls-table tbody", "Jane Smith").await;
    assert!(table.contains("Jane Smith"), "{table}");
    c.goto(&app.url("/#contacts")).await.unwrap();
    let list = wait_text_with(&c, "#contacts-table tbody", "Jane Smith").await;
    assert!(list.contains("vip, landlord"), "{list}");
    let href = c
        .find(fantoccini::Locator::Css("#page-contacts a.download"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(href.as_deref(), Some("/api/contacts?format=csv"));
    c.close().await.unwrap();
}
