//! Inboxes: create (API channel only), list, show.

use coalesce_tests::{json, TestApp};

#[test]
fn api_inboxes_are_created_listed_and_shown() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inboxes = format!("/api/v1/accounts/{account}/inboxes");
    assert_eq!(app.get(&inboxes, &token).body, json!({"payload": []}));

    let r =
        app.post(&inboxes, &token, &json!({"name": "  Website API ", "channel": {"type": "api", "webhook_url": ""}}));
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.body,
        json!({"id": id, "avatar_url": "", "channel_id": id, "name": "Website API", "channel_type": "Channel::Api", "provider": null})
    );
    let second = app.api_inbox(account, &token, "Second");
    let listed = app.get(&inboxes, &token).body;
    let ids: Vec<i64> = listed["payload"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [id, second], "oldest first");
    let r = app.get(&format!("{inboxes}/{id}"), &token);
    assert_eq!((r.status, r.body["name"].clone()), (200, json!("Website API")));
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM inboxes WHERE account_id = {account}")), 2);
}

#[test]
fn bad_inboxes_are_refused() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inboxes = format!("/api/v1/accounts/{account}/inboxes");
    for (body, status, field, code) in [
        (json!({"channel": {"type": "api"}}), 400, "name", "required"),
        (json!({"name": " ", "channel": {"type": "api"}}), 400, "name", "blank"),
        (json!({"name": "x".repeat(256), "channel": {"type": "api"}}), 400, "name", "too_long"),
        (json!({"name": "No channel"}), 400, "channel", "required"),
        (json!({"name": "Bad channel", "channel": "api"}), 400, "channel", "invalid_type"),
        (
            json!({"name": "Widget", "channel": {"type": "web_widget", "website_url": "https://example.com"}}),
            422,
            "channel.type",
            "unsupported_channel",
        ),
    ] {
        let r = app.post(&inboxes, &token, &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        r.assert_envelope();
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec![code.to_owned()]), "{body}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM inboxes"), 0);
    for path in [format!("{inboxes}/999999"), format!("{inboxes}/abc")] {
        let r = app.get(&path, &token);
        assert_eq!((r.status, r.error_codes()), (404, vec!["not_found".to_owned()]), "{path}");
    }
    let r = app.request("POST", &inboxes, None, Some(&json!({"name": "x", "channel": {"type": "api"}})));
    assert_eq!((r.status, r.error_codes()), (401, vec!["missing_token".to_owned()]));
}
