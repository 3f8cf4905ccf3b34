//! The real Twilio REST client against a local mock server: exact requests, error mapping.

use switchboard::providers::twilio::TwilioClient;
use switchboard::providers::{
    http_client, BuyNumber, NumberSearch, NumberType, OutboundSms, ProviderErrorKind, TwilioApi,
    TwilioCreds,
};
use wiremock::matchers::{basic_auth, body_string, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn creds() -> TwilioCreds {
    TwilioCreds {
        account_sid: "AC0123456789abcdef0123456789abcdef".into(),
        auth_token: "test-token".into(),
    }
}

#[tokio::test]
async fn send_sms_posts_the_exact_form_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"))
        .and(basic_auth("AC0123456789abcdef0123456789abcdef", "test-token"))
        .and(body_string(
            "To=%2B14155550123&From=%2B15550100001&Body=Sorry+we+missed+your+call+%E2%80%94+reply%21&StatusCallback=https%3A%2F%2Fphones.example.com%2Ftwilio%2Fsms%2Fstatus",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({ "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued" })))
        .expect(1)
        .mount(&server)
        .await;
    let client = TwilioClient::new(http_client(), &server.uri());
    let sent = client
        .send_sms(
            &creds(),
            &OutboundSms {
                from: "+15550100001".into(),
                to: "+14155550123".into(),
                body: "Sorry we missed your call — reply!".into(),
                status_callback: Some("https://phones.example.com/twilio/sms/status".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(sent.sid, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(sent.status, "queued");
}

#[tokio::test]
async fn twilio_errors_keep_their_code_and_get_a_clear_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/IncomingPhoneNumbers.json"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21422, "message": "PhoneNumber is unavailable", "more_info": "https://www.twilio.com/docs/errors/21422", "status": 400
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({ "code": 20003, "message": "Authenticate", "status": 401 }),
        ))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/IncomingPhoneNumbers/PN404.json"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({ "code": 20404, "message": "not found", "status": 404 })))
        .mount(&server)
        .await;
    let client = TwilioClient::new(http_client(), &server.uri());
    let buy = BuyNumber {
        phone_number: "+14155550100".into(),
        friendly_name: None,
        voice_url: "https://x/twilio/voice".into(),
        sms_url: "https://x/twilio/sms".into(),
        status_callback: "https://x/twilio/voice/status".into(),
    };
    let err = client.buy_number(&creds(), &buy).await.unwrap_err();
    assert_eq!(
        (err.kind, err.code, err.http_status),
        (ProviderErrorKind::Rejected, Some(21422), Some(400))
    );
    assert!(
        err.message.contains("no longer available"),
        "{}",
        err.message
    );
    let sms = OutboundSms {
        from: "+15550100001".into(),
        to: "+14155550123".into(),
        body: "x".into(),
        status_callback: None,
    };
    let err = client.send_sms(&creds(), &sms).await.unwrap_err();
    assert_eq!((err.kind, err.code), (ProviderErrorKind::Auth, Some(20003)));
    assert!(err.message.contains("credentials"));
    assert!(client
        .release_number(&creds(), "PN404")
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn search_sends_the_filters_and_parses_capabilities() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/AvailablePhoneNumbers/US/Local.json"))
        .and(query_param("AreaCode", "415"))
        .and(query_param("PageSize", "5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "available_phone_numbers": [{
                "friendly_name": "(415) 555-0100", "phone_number": "+14155550100", "locality": "San Francisco",
                "region": "CA", "iso_country": "US", "capabilities": { "voice": true, "SMS": true, "MMS": false }
            }]
        })))
        .mount(&server)
        .await;
    let client = TwilioClient::new(http_client(), &server.uri());
    let found = client
        .search_numbers(
            &creds(),
            &NumberSearch {
                country: "US".into(),
                number_type: NumberType::Local,
                area_code: Some("415".into()),
                contains: None,
                limit: 5,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].locality.as_deref(), Some("San Francisco"));
    assert!(found[0].capabilities.sms && !found[0].capabilities.mms);
}

#[tokio::test]
async fn an_unreachable_twilio_is_an_unavailable_error_not_a_panic() {
    // Nothing listens there.
    let base = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let client = TwilioClient::new(http_client(), &base);
    let sms = OutboundSms {
        from: "+15550100001".into(),
        to: "+14155550123".into(),
        body: "x".into(),
        status_callback: None,
    };
    let err = client.send_sms(&creds(), &sms).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unavailable);
}

mod vapi_client {
    use switchboard::providers::vapi::VapiClient;
    use switchboard::providers::{
        http_client, ProviderErrorKind, VapiApi, VapiNumberCreate, VapiNumberUpdate,
    };
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn create() -> VapiNumberCreate {
        VapiNumberCreate {
            number: "+14155550100".into(),
            twilio_account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            twilio_auth_token: "sub-token".into(),
            name: "Main line".into(),
            assistant_id: Some("asst_123".into()),
        }
    }

    #[tokio::test]
    async fn numbers_are_created_with_the_current_api_and_sms_disabled() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/phone-number"))
            .and(header("authorization", "Bearer vapi-key"))
            .and(body_json(serde_json::json!({
                "provider": "twilio", "number": "+14155550100", "twilioAccountSid": "AC0123456789abcdef0123456789abcdef",
                "twilioAuthToken": "sub-token", "name": "Main line", "assistantId": "asst_123", "smsEnabled": false
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
                "id": "7f6c7e0e-0000-4000-a000-000000000001", "number": "+14155550100", "assistantId": "asst_123", "smsEnabled": false, "provider": "twilio"
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/phone-number/import/twilio"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
        let client = VapiClient::new(http_client(), &server.uri(), "vapi-key");
        let created = client.create_phone_number(&create()).await.unwrap();
        assert_eq!(created.id, "7f6c7e0e-0000-4000-a000-000000000001");
        assert!(!created.sms_enabled);
    }

    #[tokio::test]
    async fn vapi_errors_are_mapped_to_clear_errors() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/phone-number"))
            .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "message": ["number must be a valid phone number", "assistantId must be a UUID"], "error": "Bad Request", "statusCode": 400
            })))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path("/phone-number/gone"))
            .respond_with(
                ResponseTemplate::new(404).set_body_json(
                    serde_json::json!({ "message": "Not Found", "statusCode": 404 }),
                ),
            )
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path("/phone-number/pn1"))
            .and(body_json(
                serde_json::json!({ "provider": "twilio", "assistantId": null }),
            ))
            .respond_with(
                ResponseTemplate::new(401).set_body_json(
                    serde_json::json!({ "message": "Invalid Key", "statusCode": 401 }),
                ),
            )
            .mount(&server)
            .await;
        let client = VapiClient::new(http_client(), &server.uri(), "vapi-key");
        let err = client.create_phone_number(&create()).await.unwrap_err();
        assert_eq!(
            (err.kind, err.http_status),
            (ProviderErrorKind::Rejected, Some(400))
        );
        assert_eq!(
            err.message,
            "number must be a valid phone number; assistantId must be a UUID"
        );
        assert!(client
            .delete_phone_number("gone")
            .await
            .unwrap_err()
            .is_not_found());
        let err = client
            .update_phone_number(
                "pn1",
                &VapiNumberUpdate {
                    assistant_id: Some(None),
                    name: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Auth);
        assert!(
            err.message.contains("SWITCHBOARD_VAPI_API_KEY"),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn recordings_are_fetched_as_mp3_with_the_accounts_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/RE0123456789abcdef0123456789abcdef.mp3"))
        .and(basic_auth("AC0123456789abcdef0123456789abcdef", "test-token"))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", "audio/mpeg").set_body_bytes(b"ID3fake".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let client = TwilioClient::new(http_client(), &server.uri());
    let audio = client
        .fetch_recording(&creds(), "RE0123456789abcdef0123456789abcdef")
        .await
        .unwrap();
    assert_eq!(
        (audio.content_type.as_str(), audio.bytes.as_slice()),
        ("audio/mpeg", b"ID3fake".as_slice())
    );
    // Not a recording SID: refused before any request is made (the mock expects exactly one).
    let err = client
        .fetch_recording(&creds(), "../../Messages")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Rejected);
    let gone = client
        .fetch_recording(&creds(), "REffffffffffffffffffffffffffffffff")
        .await
        .unwrap_err();
    assert!(gone.is_not_found());
}
