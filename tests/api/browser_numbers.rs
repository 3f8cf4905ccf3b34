//! The Numbers, Agents and Settings pages in a real headless Chromium: import a number the
//! business owns, buy one with its steps shown, see the one-number rule refuse a second,
//! release with the agents to unlink listed, add an agent, a settings error in words, and
//! SMS sign-ups approved (with their number bought) or rejected.

use crate::browser::{click, signed_in_at, type_into, wait_for, wait_gone, wait_visible_text};
use crate::helpers::spawn_app;
use fantoccini::Locator;
use std::time::Duration;

#[tokio::test]
async fn an_owner_imports_buys_and_releases_numbers_and_adds_an_agent_from_the_dashboard() {
    let app = spawn_app().await;
    let Some((_driver, c)) = signed_in_at(&app, "").await else {
        return;
    };
    wait_visible_text(&c, "#org-name").await;
    c.goto(&app.url("/#numbers")).await.unwrap();
    wait_for(&c, "tr[data-number='+15550100001']").await;

    // Import a number the Twilio account already owns.
    click(&c, "#import-open").await;
    wait_for(&c, "#import-number option[value='+15550100010']").await;
    // The AI agent is asked for only when the AI answers the number.
    let agent = c.find(Locator::Css("#import-agent")).await.unwrap();
    assert!(!agent.is_displayed().await.unwrap());
    c.find(Locator::Css("#import-handler"))
        .await
        .unwrap()
        .select_by_value("vapi")
        .await
        .unwrap();
    assert!(agent.is_displayed().await.unwrap());
    c.find(Locator::Css("#import-handler"))
        .await
        .unwrap()
        .select_by_value("ivr")
        .await
        .unwrap();
    assert!(!agent.is_displayed().await.unwrap());
    type_into(&c, "#import-name", "Shop line").await;
    click(&c, "#import-submit").await;
    wait_for(&c, "tr[data-number='+15550100010']").await;
    let done = wait_visible_text(&c, "#numbers-done").await;
    assert!(done.starts_with("Imported +15550100010"), "{done}");
    let row = wait_visible_text(&c, "tr[data-number='+15550100010']").await;
    assert!(
        row.contains("Shop line") && row.contains("imported"),
        "{row}"
    );

    // Buy one: search, pick, buy; the dialog closes and the number is listed.
    click(&c, "#buy-open").await;
    type_into(&c, "#buy-area", "415").await;
    click(&c, "#buy-search-submit").await;
    wait_for(&c, "#buy-results input[value='+14155550100']").await;
    click(&c, "#buy-submit").await;
    wait_for(&c, "tr[data-number='+14155550100']").await;
    let done = wait_visible_text(&c, "#numbers-done").await;
    assert!(done.starts_with("Bought +14155550100"), "{done}");
    assert!(
        app.count(
            "SELECT count(*) FROM phone_numbers WHERE origin = 'managed' AND status = 'active'"
        ) == 1
    );

    // A second purchase is refused with what to do, before anything is bought.
    click(&c, "#buy-open").await;
    type_into(&c, "#buy-area", "415").await;
    click(&c, "#buy-search-submit").await;
    wait_for(&c, "#buy-results input[value='+14155550101']").await;
    click(&c, "#buy-submit").await;
    let error = wait_visible_text(&c, "#buy-error").await;
    assert!(error.contains("Release the managed number"), "{error}");
    click(&c, "#buy-dialog [data-close]").await;

    // Release the AI line: the confirmation names the agent that will be unlinked.
    click(
        &c,
        "tr[data-number='+15550100004'] td.actions button:nth-child(2)",
    )
    .await;
    let agents = wait_visible_text(&c, "#release-agents").await;
    assert!(agents.contains("Front desk AI"), "{agents}");
    let steps = wait_visible_text(&c, "#release-steps").await;
    assert!(steps.contains("Delete the number from Vapi"), "{steps}");
    click(&c, "#release-submit").await;
    wait_gone(&c, "tr[data-number='+15550100004']").await;
    let done = wait_visible_text(&c, "#numbers-done").await;
    assert!(done.starts_with("Released +15550100004"), "{done}");
    assert_eq!(
        app.count("SELECT count(*) FROM phone_numbers WHERE e164 = '+15550100004' AND status = 'released' AND agent_id IS NULL"),
        1
    );

    // Agents: add one; it is listed as answering no number.
    c.goto(&app.url("/#agents")).await.unwrap();
    wait_for(&c, "tr[data-agent='Front desk AI']").await;
    type_into(&c, "#agent-name", "Night shift AI").await;
    type_into(&c, "#agent-assistant", "asst_night").await;
    click(&c, "#agent-form button[type='submit']").await;
    let row = wait_visible_text(&c, "tr[data-agent='Night shift AI']").await;
    assert!(row.contains("No number"), "{row}");

    // Settings: a bad notification number is explained at the form.
    c.goto(&app.url("/#settings")).await.unwrap();
    wait_for(&c, "#org-timezone").await;
    for _ in 0..50 {
        if !crate::browser::value_of(&c, "#org-timezone")
            .await
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    type_into(&c, "#org-notification", "555-1234").await;
    click(&c, "#org-submit").await;
    // The error is at the field, in words, with a summary at the top of the form.
    let at_field = wait_visible_text(&c, "#org-notification-error").await;
    assert!(
        at_field.ends_with("Enter your mobile number, like 415 555 0123.")
            && !at_field.contains("notificationNumber"),
        "{at_field}"
    );
    let summary = wait_visible_text(&c, "#org-form > .error-summary").await;
    assert!(
        summary.contains("There is a problem") && summary.contains(&at_field),
        "{summary}"
    );
    let invalid = c
        .find(Locator::Css("#org-notification"))
        .await
        .unwrap()
        .attr("aria-invalid")
        .await
        .unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    // Typed as people type it, read as a number of the business's country.
    type_into(&c, "#org-notification", "(415) 555-0188").await;
    click(&c, "#org-submit").await;
    wait_visible_text(&c, "#org-saved").await;
    wait_gone(&c, "#org-form > .error-summary").await;
    assert_eq!(
        app.count("SELECT count(*) FROM orgs WHERE notification_number = '+14155550188'"),
        1
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_owner_approves_a_text_sign_up_with_its_number_and_rejects_another() {
    let app = spawn_app().await;
    let approved = crate::twilio_sms::signed_up(&app, "+12125550181", "Dot's Diner", "SM61").await;
    let rejected = crate::twilio_sms::signed_up(&app, "+12125550182", "Eve's Spa", "SM62").await;
    let Some((_driver, c)) = signed_in_at(&app, "").await else {
        return;
    };
    wait_visible_text(&c, "#org-name").await;
    c.goto(&app.url("/#numbers")).await.unwrap();
    wait_for(&c, &format!("li[data-signup='{approved}']")).await;

    click(
        &c,
        &format!("li[data-signup='{approved}'] button:nth-of-type(1)"),
    )
    .await;
    let note = wait_visible_text(&c, "#signups-result").await;
    assert!(
        note.contains("\"Dot's Diner\" has its line: +1212"),
        "{note}"
    );
    wait_gone(&c, &format!("li[data-signup='{approved}']")).await;

    click(
        &c,
        &format!("li[data-signup='{rejected}'] button:nth-of-type(2)"),
    )
    .await;
    let note = wait_visible_text(&c, "#signups-result").await;
    assert!(note.contains("Rejected \"Eve's Spa\""), "{note}");
    wait_gone(&c, &format!("li[data-signup='{rejected}']")).await;
    wait_visible_text(&c, "#signups-empty").await;
    assert_eq!(
        app.count("SELECT count(*) FROM phone_numbers n JOIN orgs o ON o.id = n.org_id WHERE o.name = 'Dot''s Diner' AND n.status = 'active'"),
        1
    );
    c.close().await.unwrap();
}
