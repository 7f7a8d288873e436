//! The served OpenAPI document is the contract: the merge request requires both ids, and every operation answers,
//! on success and on error, exactly what the document says (the harness validates every response any test
//! receives against it; this file makes sure every operation is exercised both ways, and with the database down).

use std::collections::BTreeSet;

use coalesce_tests::{contract, json, TestApp};
use serde_json::Value;

#[test]
fn the_served_merge_request_requires_both_ids() {
    let app = TestApp::spawn();
    let r = app.request("GET", "/api-docs/openapi.json", None, None);
    assert_eq!(r.status, 200);
    let schemas = &r.body["components"]["schemas"];
    let required: BTreeSet<&str> =
        schemas["MergeContactsRequest"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, BTreeSet::from(["base_contact_id", "mergee_contact_id"]));
    // the merge and its preview both take that request
    for path in [
        "/api/v1/accounts/{account_id}/actions/contact_merge",
        "/api/v1/accounts/{account_id}/actions/contact_merge/preview",
    ] {
        assert_eq!(
            r.body["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/MergeContactsRequest"
        );
    }
    // and a body without them is still one 400 per missing id
    let (account, token) = app.account_with_admin();
    let r = app.post(&format!("/api/v1/accounts/{account}/actions/contact_merge"), &token, &json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(r.error_fields(), ["base_contact_id", "mergee_contact_id"]);
    assert_eq!(r.error_codes(), ["required", "required"]);
}

#[test]
fn each_error_status_shows_an_example_of_its_own() {
    let app = TestApp::spawn();
    let doc = app.request("GET", "/api-docs/openapi.json", None, None).body;
    let merge = &doc["paths"]["/api/v1/accounts/{account_id}/actions/contact_merge"]["post"]["responses"];
    let codes = |status: &str| -> BTreeSet<String> {
        merge[status]["content"]["application/json"]["examples"]
            .as_object()
            .unwrap_or_else(|| panic!("no examples for {status}"))
            .values()
            .map(|e| e["value"]["errors"][0]["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes("401"), BTreeSet::from(["invalid_token".to_owned()]));
    assert_eq!(codes("404"), BTreeSet::from(["merged".to_owned(), "not_found".to_owned()]));
    assert_eq!(codes("422"), BTreeSet::from(["taken".to_owned(), "idempotency_key_reused".to_owned()]));
    assert_eq!(codes("503"), BTreeSet::from(["service_unavailable".to_owned()]));
    let merged = &merge["404"]["content"]["application/json"]["examples"]["merged"]["value"];
    assert!(merged["merged_into"].is_i64(), "{merged}");
    // no error response anywhere falls back to one generic example
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let examples = &response["content"]["application/json"]["examples"];
                    assert!(examples.as_object().is_some_and(|e| !e.is_empty()), "{method} {path} {status}");
                }
            }
        }
    }
}

fn id(r: &coalesce_tests::Response, pointer: &str) -> i64 {
    r.body.pointer(pointer).and_then(Value::as_i64).unwrap_or_else(|| panic!("no {pointer} in {}", r.body))
}

#[test]
fn every_operation_answers_as_documented_on_success_and_on_error() {
    let app = TestApp::spawn();
    let platform = app.create_platform_app();
    let (account, token) = app.account_with_admin();
    let a = |path: &str| format!("/api/v1/accounts/{account}{path}");
    let t = Some(token.as_str());
    let call = |method: &str, path: &str, body: Option<Value>, expected: u16| {
        let r = app.request(method, path, t, body.as_ref());
        assert_eq!(r.status, expected, "{method} {path}: {}", r.body);
        r
    };

    // platform
    let r = app.request("POST", "/platform/api/v1/accounts", Some(&platform), Some(&json!({"name": "Contract"})));
    assert_eq!(r.status, 200);
    let own_account = id(&r, "/id");
    app.request("POST", "/platform/api/v1/accounts", Some(&platform), Some(&json!({"name": ""})));
    let r = app.request(
        "POST",
        "/platform/api/v1/users",
        Some(&platform),
        Some(&json!({"name": "Cleo", "email": "cleo@contract.example"})),
    );
    assert_eq!(r.status, 200);
    let user = id(&r, "/id");
    app.request("POST", "/platform/api/v1/users", Some(&platform), Some(&json!({"name": "Cleo", "email": "nope"})));
    let r = app.request(
        "POST",
        &format!("/platform/api/v1/accounts/{own_account}/account_users"),
        Some(&platform),
        Some(&json!({"user_id": user, "role": "agent"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    app.request(
        "POST",
        &format!("/platform/api/v1/accounts/{own_account}/account_users"),
        Some(&platform),
        Some(&json!({"user_id": user, "role": "owner"})),
    );

    // inboxes
    let inbox = id(&call("POST", &a("/inboxes"), Some(json!({"name": "Web", "channel": {"type": "api"}})), 200), "/id");
    call("POST", &a("/inboxes"), Some(json!({"name": " ", "channel": {"type": "api"}})), 400);
    call("GET", &a("/inboxes"), None, 200);
    call("GET", &a(&format!("/inboxes/{inbox}")), None, 200);
    call("GET", &a("/inboxes/999999"), None, 404);

    // contacts
    let contact = |body: Value| id(&call("POST", &a("/contacts"), Some(body), 200), "/payload/contact/id");
    let base = contact(json!({"name": "Ada", "email": "ada@contract.example", "inbox_id": inbox}));
    let mergee = contact(json!({"name": "Ada L.", "phone_number": "+4930123456", "custom_attributes": {"tier": 2}}));
    let other = contact(json!({"name": "Bob"}));
    call("POST", &a("/contacts"), Some(json!({"email": "ada@contract.example"})), 422);
    call("GET", &a("/contacts?page=1"), None, 200);
    call("GET", &a("/contacts?page=zero"), None, 400);
    call("GET", &a("/contacts/search?q=ada"), None, 200);
    call("GET", &a("/contacts/search"), None, 400);
    call("GET", &a(&format!("/contacts/{base}")), None, 200);
    call("GET", &a("/contacts/999999"), None, 404);
    call("PUT", &a(&format!("/contacts/{other}")), Some(json!({"name": "Bobby"})), 200);
    call("PUT", &a(&format!("/contacts/{other}")), Some(json!({"email": 7})), 400);
    call("PATCH", &a(&format!("/contacts/{other}")), Some(json!({"identifier": "bob-1"})), 200);
    call("PATCH", &a(&format!("/contacts/{other}")), Some(json!({"email": "ada@contract.example"})), 422);
    call("POST", &a(&format!("/contacts/{other}/contact_inboxes")), Some(json!({"inbox_id": inbox})), 200);
    call("POST", &a(&format!("/contacts/{other}/contact_inboxes")), Some(json!({"inbox_id": 999999})), 404);

    // identities and the lookup
    let identity = id(
        &call(
            "POST",
            &a(&format!("/contacts/{other}/identities")),
            Some(json!({"kind": "email", "value": "bob@old.example"})),
            200,
        ),
        "/id",
    );
    call("POST", &a(&format!("/contacts/{other}/identities")), Some(json!({"kind": "fax", "value": "1"})), 400);
    call("GET", &a(&format!("/contacts/{other}/identities")), None, 200);
    call("GET", &a("/contacts/999999/identities"), None, 404);
    call("GET", &a("/contacts/lookup?email=BOB@old.example"), None, 200);
    call("GET", &a("/contacts/lookup?email=nobody@old.example"), None, 404);
    call("DELETE", &a(&format!("/contacts/{other}/identities/{identity}")), None, 200);
    call("DELETE", &a(&format!("/contacts/{other}/identities/{identity}")), None, 404);
    // duplicate suggestions: a look-alike of the base, listed, then kept separate
    let twin = contact(json!({"name": "Ada", "email": "ada@elsewhere.example", "identifier": "ada-2"}));
    app.settle_duplicates();
    let found = call("GET", &a(&format!("/contacts/{base}/duplicates")), None, 200);
    assert_eq!(found.body["payload"][0]["contact"]["id"], twin, "{}", found.body);
    call("GET", &a("/contacts/999999/duplicates"), None, 404);
    let listed = call("GET", &a("/contact_duplicates?min_confidence=0.3"), None, 200);
    assert_eq!(listed.body["meta"]["count"], 1, "{}", listed.body);
    call("GET", &a("/contact_duplicates?min_confidence=2"), None, 400);
    call("POST", &a("/contact_duplicates/dismiss"), Some(json!({"contact_ids": [twin, base]})), 200);
    call("POST", &a("/contact_duplicates/dismiss"), Some(json!({"contact_ids": [base, base]})), 400);

    // labels and notes
    call("POST", &a(&format!("/contacts/{mergee}/labels")), Some(json!({"labels": ["vip"]})), 200);
    call("POST", &a(&format!("/contacts/{mergee}/labels")), Some(json!({"labels": "vip"})), 400);
    call("GET", &a(&format!("/contacts/{mergee}/labels")), None, 200);
    call("GET", &a("/contacts/999999/labels"), None, 404);
    let note = id(&call("POST", &a(&format!("/contacts/{mergee}/notes")), Some(json!({"content": "n"})), 200), "/id");
    call("POST", &a(&format!("/contacts/{mergee}/notes")), Some(json!({"content": ""})), 400);
    call("GET", &a(&format!("/contacts/{mergee}/notes")), None, 200);
    call("GET", &a("/contacts/999999/notes"), None, 404);
    call("GET", &a(&format!("/contacts/{mergee}/notes/{note}")), None, 200);
    call("GET", &a(&format!("/contacts/{mergee}/notes/999999")), None, 404);
    call("PATCH", &a(&format!("/contacts/{mergee}/notes/{note}")), Some(json!({"content": "m"})), 200);
    call("PATCH", &a(&format!("/contacts/{mergee}/notes/{note}")), Some(json!({})), 400);

    // conversations and messages
    let conversation = id(
        &call(
            "POST",
            &a("/conversations"),
            Some(json!({"inbox_id": inbox, "contact_id": mergee, "message": {"content": "hi"}})),
            200,
        ),
        "/id",
    );
    call("POST", &a("/conversations"), Some(json!({"inbox_id": inbox, "contact_id": 999999})), 404);
    call("GET", &a(&format!("/conversations/{conversation}")), None, 200);
    call("GET", &a("/conversations/999999"), None, 404);
    call("POST", &a(&format!("/conversations/{conversation}/messages")), Some(json!({"content": "yo"})), 200);
    call("POST", &a(&format!("/conversations/{conversation}/messages")), Some(json!({"content": 1})), 400);
    call("GET", &a(&format!("/conversations/{conversation}/messages")), None, 200);
    call("GET", &a("/conversations/999999/messages"), None, 404);
    call("GET", &a(&format!("/contacts/{mergee}/conversations")), None, 200);
    call("GET", &a("/contacts/999999/conversations"), None, 404);

    // webhooks (a public address literal: registration resolves nothing)
    let hook = id(
        &call(
            "POST",
            &a("/webhooks"),
            Some(json!({"url": "https://93.184.215.14/hook", "subscriptions": ["contact_merged"]})),
            200,
        ),
        "/id",
    );
    call(
        "POST",
        &a("/webhooks"),
        Some(json!({"url": "ftp://93.184.215.14/hook", "subscriptions": ["contact_merged"]})),
        422,
    );
    call("GET", &a("/webhooks"), None, 200);
    call("DELETE", &a(&format!("/webhooks/{hook}")), None, 200);
    call("DELETE", &a(&format!("/webhooks/{hook}")), None, 404);

    // the merge, its preview and its record (a merge changes strings, numbers and objects on the base)
    let merge_body = json!({"base_contact_id": base, "mergee_contact_id": mergee});
    let preview = call("POST", &a("/actions/contact_merge/preview"), Some(merge_body.clone()), 200);
    assert!(preview.body["changes"]["phone_number"]["to"].is_string(), "{}", preview.body);
    call("POST", &a("/actions/contact_merge/preview"), Some(json!({"base_contact_id": base})), 400);
    call("POST", &a("/actions/contact_merge"), Some(merge_body), 200);
    let gone = call(
        "POST",
        &a("/actions/contact_merge"),
        Some(json!({"base_contact_id": other, "mergee_contact_id": mergee})),
        404,
    );
    assert_eq!(gone.error_codes(), ["merged"]);
    let records = call("GET", &a("/contact_merges"), None, 200);
    let record = id(&records, "/payload/0/id");
    call("GET", &a("/contact_merges?page=x"), None, 400);
    call("GET", &a(&format!("/contact_merges/{record}")), None, 200);
    call("GET", &a("/contact_merges/999999"), None, 404);
    call("GET", &a(&format!("/contacts/{mergee}")), None, 404);

    // deletions last
    call("DELETE", &a(&format!("/contacts/{mergee}/notes/{note}")), None, 404);
    let note = id(&call("POST", &a(&format!("/contacts/{base}/notes")), Some(json!({"content": "n"})), 200), "/id");
    call("DELETE", &a(&format!("/contacts/{base}/notes/{note}")), None, 200);
    call("DELETE", &a(&format!("/contacts/{other}")), None, 200);
    call("DELETE", &a(&format!("/contacts/{other}")), None, 404);

    // the undo of the merge: previewed, done, then refused as done already; the mergee answers again
    let undo = a(&format!("/contact_merges/{record}/undo"));
    call("POST", &format!("{undo}/preview"), None, 200);
    call("POST", &undo, None, 200);
    assert_eq!(call("POST", &undo, None, 409).error_codes(), ["already_undone"]);
    call("POST", &format!("{undo}/preview"), None, 409);
    call("GET", &a(&format!("/contacts/{mergee}")), None, 200);

    // several contacts at once, the caller choosing a winner: previewed, refused, done
    let (one, two) =
        (contact(json!({"name": "One"})), contact(json!({"name": "Two", "email": "two@contract.example"})));
    let many = json!({"base_contact_id": mergee, "mergee_contact_ids": [one, two], "attributes": {"name": two}});
    let preview = call("POST", &a("/actions/contact_merge_many/preview"), Some(many.clone()), 200);
    assert_eq!(preview.body["payload"]["name"], json!("Two"), "{}", preview.body);
    call("POST", &a("/actions/contact_merge_many/preview"), Some(json!({"base_contact_id": mergee})), 400);
    call("POST", &a("/actions/contact_merge_many"), Some(many), 200);
    call(
        "POST",
        &a("/actions/contact_merge_many"),
        Some(json!({"base_contact_id": mergee, "mergee_contact_ids": [one]})),
        404,
    );

    // anonymous callers, and the probes
    for operation in contract::operations() {
        let (method, template) = operation.split_once(' ').unwrap();
        let path = template
            .replace("{account_id}", &account.to_string())
            .replace("{id}", "1")
            .replace("{note_id}", "1")
            .replace("{identity_id}", "1")
            .replace("{conversation_id}", "1")
            .replace("{webhook_id}", "1");
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        app.request(method, &path, None, body.as_ref());
    }

    // every operation was answered at least once with a success and, where it can fail, with an error
    let answered = app.answered();
    for operation in contract::operations() {
        let statuses: Vec<u16> = answered.iter().filter(|(o, _)| *o == operation).map(|(_, s)| *s).collect();
        assert!(statuses.iter().any(|s| (200..300).contains(s)), "{operation} never succeeded: {statuses:?}");
        if !operation.ends_with(" /health") && !operation.ends_with(" /ready") {
            assert!(statuses.iter().any(|s| (400..500).contains(s)), "{operation} never failed: {statuses:?}");
        }
    }
}

#[test]
fn with_the_database_down_every_operation_answers_its_documented_503() {
    let app = TestApp::spawn_with_database_down();
    for operation in contract::operations() {
        let (method, template) = operation.split_once(' ').unwrap();
        let path = template
            .replace("{account_id}", "1")
            .replace("{id}", "1")
            .replace("{note_id}", "1")
            .replace("{identity_id}", "1")
            .replace("{conversation_id}", "1")
            .replace("{webhook_id}", "1");
        let body = match method {
            "GET" | "DELETE" => None,
            _ if template.ends_with("contact_merge") || template.ends_with("preview") => {
                Some(json!({"base_contact_id": 1, "mergee_contact_id": 2}))
            }
            _ => Some(json!({})),
        };
        let r = app.request(method, &path, Some("some-token"), body.as_ref());
        if template == "/health" {
            assert_eq!(r.status, 200);
        } else {
            assert_eq!(r.status, 503, "{operation}: {}", r.body);
        }
    }
}
