//! Accounts are isolated: a member of account A can neither see, change, merge nor delete anything of account
//! B. B's ids used under A's path are 404 (never 403: nothing tells them apart from ids that do not exist),
//! and A's token under B's path is 401 on every route of the API.

use coalesce_tests::{json, TestApp};
use serde_json::Value;

struct World {
    app: TestApp,
    a: domain::AccountId,
    ta: String,
    contact_a: i64,
    inbox_a: i64,
    b: domain::AccountId,
    contact_b: i64,
    inbox_b: i64,
    note_b: i64,
}

fn world() -> World {
    let app = TestApp::spawn();
    let (a, ta) = app.account_with_admin();
    let (b, tb) = app.account_with_admin();
    let inbox_b = app.api_inbox(b, &tb, "B inbox");
    let contact_b = app.api_contact(
        b,
        &tb,
        &json!({"name": "Secret B", "email": "secret@b.example", "inbox_id": inbox_b, "source_id": "b-src"}),
    );
    let conversation_b = app.api_conversation(b, &tb, inbox_b, contact_b);
    assert_eq!(conversation_b, 1);
    app.api_message(b, &tb, conversation_b, "B's private words", "incoming");
    let note_b = app
        .post(&format!("/api/v1/accounts/{b}/contacts/{contact_b}/notes"), &tb, &json!({"content": "B note"}))
        .body["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.post(&format!("/api/v1/accounts/{b}/contacts/{contact_b}/labels"), &tb, &json!({"labels": ["b-label"]}))
            .status,
        200
    );
    // A has a contact and an inbox of its own, but no conversation: conversation number 1 exists only in B
    let inbox_a = app.api_inbox(a, &ta, "A inbox");
    let contact_a = app.api_contact(a, &ta, &json!({"name": "Mine"}));
    World { app, a, ta, contact_a, inbox_a, b, contact_b, inbox_b, note_b }
}

#[test]
fn ids_of_another_account_are_not_found_and_nothing_changes() {
    let w = world();
    let (app, a, ta) = (&w.app, w.a, w.ta.as_str());
    let (cb, nb, ib, ca, ia) = (w.contact_b, w.note_b, w.inbox_b, w.contact_a, w.inbox_a);
    let base = format!("/api/v1/accounts/{a}");
    let before = app.dump();
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", format!("{base}/contacts/{cb}"), None, "id"),
        ("PUT", format!("{base}/contacts/{cb}"), Some(json!({"name": "stolen"})), "id"),
        ("PATCH", format!("{base}/contacts/{cb}"), Some(json!({"name": "stolen"})), "id"),
        ("DELETE", format!("{base}/contacts/{cb}"), None, "id"),
        ("GET", format!("{base}/contacts/{cb}/conversations"), None, "id"),
        ("GET", format!("{base}/contacts/{cb}/labels"), None, "id"),
        ("POST", format!("{base}/contacts/{cb}/labels"), Some(json!({"labels": []})), "id"),
        ("GET", format!("{base}/contacts/{cb}/notes"), None, "id"),
        ("POST", format!("{base}/contacts/{cb}/notes"), Some(json!({"content": "x"})), "id"),
        ("GET", format!("{base}/contacts/{cb}/notes/{nb}"), None, "id"),
        ("PATCH", format!("{base}/contacts/{cb}/notes/{nb}"), Some(json!({"content": "x"})), "id"),
        ("DELETE", format!("{base}/contacts/{cb}/notes/{nb}"), None, "id"),
        ("GET", format!("{base}/contacts/{ca}/notes/{nb}"), None, "note_id"),
        ("PATCH", format!("{base}/contacts/{ca}/notes/{nb}"), Some(json!({"content": "x"})), "note_id"),
        ("DELETE", format!("{base}/contacts/{ca}/notes/{nb}"), None, "note_id"),
        ("POST", format!("{base}/contacts/{cb}/contact_inboxes"), Some(json!({"inbox_id": ia})), "id"),
        ("POST", format!("{base}/contacts/{ca}/contact_inboxes"), Some(json!({"inbox_id": ib})), "inbox_id"),
        ("POST", format!("{base}/contacts"), Some(json!({"name": "x", "inbox_id": ib})), "inbox_id"),
        ("GET", format!("{base}/inboxes/{ib}"), None, "id"),
        ("POST", format!("{base}/conversations"), Some(json!({"inbox_id": ib, "contact_id": ca})), "inbox_id"),
        ("POST", format!("{base}/conversations"), Some(json!({"inbox_id": ia, "contact_id": cb})), "contact_id"),
        ("POST", format!("{base}/conversations"), Some(json!({"inbox_id": ia, "source_id": "b-src"})), "source_id"),
        ("GET", format!("{base}/conversations/1"), None, "conversation_id"),
        ("GET", format!("{base}/conversations/1/messages"), None, "conversation_id"),
        ("POST", format!("{base}/conversations/1/messages"), Some(json!({"content": "x"})), "conversation_id"),
        (
            "POST",
            format!("{base}/actions/contact_merge"),
            Some(json!({"base_contact_id": ca, "mergee_contact_id": cb})),
            "mergee_contact_id",
        ),
        (
            "POST",
            format!("{base}/actions/contact_merge"),
            Some(json!({"base_contact_id": cb, "mergee_contact_id": ca})),
            "base_contact_id",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = app.request(method, &path, Some(ta), body.as_ref());
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), [field], "{method} {path}");
        assert_eq!(r.error_codes(), ["not_found"], "{method} {path}");
        assert!(!r.body.to_string().contains("Secret B"), "no leak in {method} {path}");
    }
    // lists and searches of A never show B's rows
    let list = app.get(&format!("{base}/contacts"), ta).body;
    assert_eq!(list["meta"]["count"], 1);
    let search = app.get(&format!("{base}/contacts/search?q=secret"), ta).body;
    assert_eq!(search["meta"]["count"], 0);
    let inboxes = app.get(&format!("{base}/inboxes"), ta).body;
    assert_eq!(inboxes["payload"].as_array().unwrap().len(), 1);
    assert_eq!(app.dump(), before, "nothing of either account changed");
}

#[test]
fn every_route_refuses_a_member_of_another_account_and_anonymous_callers() {
    let w = world();
    let app = &w.app;
    let doc = app.request("GET", "/api-docs/openapi.json", None, None).body;
    let paths = doc["paths"].as_object().unwrap();
    let before = app.dump();
    let mut checked = 0;
    for (template, item) in paths {
        if !template.starts_with("/api/v1/accounts/") {
            continue;
        }
        let id = if template.contains("/inboxes/") { w.inbox_b } else { w.contact_b };
        let path = template
            .replace("{account_id}", &w.b.to_string())
            .replace("{id}", &id.to_string())
            .replace("{note_id}", &w.note_b.to_string())
            .replace("{conversation_id}", "1");
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let r = app.request(&method, &path, Some(&w.ta), body.as_ref());
            assert_eq!(
                (r.status, r.error_codes()),
                (401, vec!["not_account_member".to_owned()]),
                "{method} {path}: {}",
                r.body
            );
            let r = app.request(&method, &path, None, body.as_ref());
            assert_eq!(
                (r.status, r.error_codes()),
                (401, vec!["missing_token".to_owned()]),
                "{method} {path}: {}",
                r.body
            );
            // Authentication is answered before a malformed path or query is.
            let malformed = format!("{}?page=none&sort=nothing", template.replace("{account_id}", &w.b.to_string()))
                .replace("{id}", "x")
                .replace("{note_id}", "x")
                .replace("{conversation_id}", "x");
            let r = app.request(&method, &malformed, Some(&w.ta), body.as_ref());
            assert_eq!(
                (r.status, r.error_codes()),
                (401, vec!["not_account_member".to_owned()]),
                "{method} {malformed}: {}",
                r.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 24, "every account route was checked ({checked})");
    assert_eq!(app.dump(), before);
}
