//! The whole story an integration lives through, over HTTP only: a platform app provisions an account and a
//! user; the user creates an inbox, two contacts (the same person, twice), conversations, messages, notes and
//! labels; merges the duplicate into the original; and finds everything on the original.

use coalesce_tests::{json, TestApp};
use serde_json::Value;

fn ids(list: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list.as_array().unwrap().iter().map(|v| v["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn provision_fill_merge_and_find_everything_on_the_base() {
    let app = TestApp::spawn();
    let platform = app.create_platform_app();

    // 1. provisioning
    let account =
        app.post("/platform/api/v1/accounts", &platform, &json!({"name": "Story Inc"})).body["id"].as_i64().unwrap();
    let user =
        app.post("/platform/api/v1/users", &platform, &json!({"name": "Sam Support", "email": "sam@story.example"}));
    assert_eq!(user.status, 200, "{}", user.body);
    let (user_id, token) = (user.body["id"].as_i64().unwrap(), user.body["access_token"].as_str().unwrap().to_owned());
    let r = app.post(
        &format!("/platform/api/v1/accounts/{account}/account_users"),
        &platform,
        &json!({"user_id": user_id, "role": "administrator"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let api = |path: &str| format!("/api/v1/accounts/{account}{path}");
    let account_id = domain::AccountId::new(account);

    // 2. an inbox and the same person twice
    let inbox = app.post(&api("/inboxes"), &token, &json!({"name": "Website", "channel": {"type": "api"}})).body["id"]
        .as_i64()
        .unwrap();
    let base = app.post(
        &api("/contacts"),
        &token,
        &json!({"name": "Jo Doe", "email": "jo@doe.example", "inbox_id": inbox, "source_id": "web-jo",
                "custom_attributes": {"plan": "pro"}}),
    );
    assert_eq!(base.status, 200, "{}", base.body);
    let base = base.body["payload"]["contact"]["id"].as_i64().unwrap();
    let dup = app.post(
        &api("/contacts"),
        &token,
        &json!({"name": "J. Doe", "phone_number": "+4915112345678", "identifier": "crm-77", "inbox_id": inbox,
                "source_id": "web-jo-2", "custom_attributes": {"plan": "free", "newsletter": true}}),
    );
    let dup = dup.body["payload"]["contact"]["id"].as_i64().unwrap();

    // 3. conversations, messages, notes and labels on both
    let mut conversations = Vec::new();
    for (contact, source) in [(base, "web-jo"), (dup, "web-jo-2")] {
        let r = app.post(
            &api("/conversations"),
            &token,
            &json!({"inbox_id": inbox, "source_id": source, "message": {"content": format!("hi from {source}"), "message_type": "incoming"}}),
        );
        assert_eq!((r.status, r.body["contact_id"].clone()), (200, json!(contact)), "{}", r.body);
        let number = r.body["id"].as_i64().unwrap();
        app.api_message(account_id, &token, number, &format!("reply to {source}"), "outgoing");
        conversations.push(number);
        let r = app.post(
            &api(&format!("/contacts/{contact}/notes")),
            &token,
            &json!({"content": format!("note on {source}")}),
        );
        assert_eq!(r.status, 200);
    }
    assert_eq!(conversations, [1, 2]);
    app.post(&api(&format!("/contacts/{base}/labels")), &token, &json!({"labels": ["customer", "vip"]}));
    app.post(&api(&format!("/contacts/{dup}/labels")), &token, &json!({"labels": ["vip", "newsletter"]}));
    let found = app.get(&api("/contacts/search?q=doe"), &token).body;
    assert_eq!(found["meta"]["count"], 2, "search finds both duplicates: {found}");

    // 4. the merge
    let r =
        app.post(&api("/actions/contact_merge"), &token, &json!({"base_contact_id": base, "mergee_contact_id": dup}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], base);

    // 5. everything is on the base
    let shown = app.get(&api(&format!("/contacts/{base}")), &token);
    assert_eq!(shown.status, 200);
    let c = &shown.body["payload"];
    assert_eq!((&c["name"], &c["email"]), (&json!("Jo Doe"), &json!("jo@doe.example")), "the base wins");
    assert_eq!(
        (&c["phone_number"], &c["identifier"]),
        (&json!("+4915112345678"), &json!("crm-77")),
        "the mergee fills the gaps"
    );
    assert_eq!(c["custom_attributes"], json!({"plan": "pro", "newsletter": true}));
    let mut sources: Vec<&str> =
        c["contact_inboxes"].as_array().unwrap().iter().map(|ci| ci["source_id"].as_str().unwrap()).collect();
    sources.sort_unstable();
    assert_eq!(sources, ["web-jo", "web-jo-2"]);

    let theirs = app.get(&api(&format!("/contacts/{base}/conversations")), &token).body;
    assert_eq!(ids(&theirs["payload"]), [1, 2]);
    assert!(theirs["payload"].as_array().unwrap().iter().all(|c| c["meta"]["sender"]["id"] == json!(base)));
    let messages = app.get(&api("/conversations/2/messages"), &token).body;
    let m = messages["payload"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(
        (&m[0]["content"], &m[0]["sender_type"], &m[0]["sender"]["id"]),
        (&json!("hi from web-jo-2"), &json!("contact"), &json!(base))
    );
    assert_eq!((&m[1]["sender_type"], &m[1]["sender"]["id"]), (&json!("user"), &json!(user_id)));
    let conversation = app.get(&api("/conversations/2"), &token).body;
    assert_eq!(conversation["contact_id"], base);

    let notes = app.get(&api(&format!("/contacts/{base}/notes")), &token).body;
    let mut contents: Vec<&str> = notes.as_array().unwrap().iter().map(|n| n["content"].as_str().unwrap()).collect();
    contents.sort_unstable();
    assert_eq!(contents, ["note on web-jo", "note on web-jo-2"]);
    assert_eq!(
        app.get(&api(&format!("/contacts/{base}/labels")), &token).body,
        json!({"payload": ["customer", "newsletter", "vip"]})
    );

    // the duplicate is gone, and a new message in its old conversation lands on the base
    assert_eq!(app.get(&api(&format!("/contacts/{dup}")), &token).status, 404);
    let after = app.api_message(account_id, &token, 2, "still there?", "incoming");
    assert_eq!(after["sender_id"], base);
    let found = app.get(&api("/contacts/search?q=doe"), &token).body;
    assert_eq!(found["meta"]["count"], 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM contact_merges WHERE base_contact_id = {base} AND mergee_contact_id = {dup}"
        )),
        1
    );
}
