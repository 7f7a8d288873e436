//! What hangs off a contact: labels, notes and contact inboxes.

use coalesce_tests::{json, TestApp};
use domain::AccountId;
use serde_json::Value;

fn contact(account: AccountId, id: i64) -> String {
    format!("/api/v1/accounts/{account}/contacts/{id}")
}

#[test]
fn labels_are_listed_sorted_and_replaced_as_a_whole_set() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let id = app.api_contact(account, &token, &json!({"name": "Labelled"}));
    let labels = format!("{}/labels", contact(account, id));

    let r = app.get(&labels, &token);
    assert_eq!((r.status, r.body.clone()), (200, json!({"payload": []})));
    let r = app.post(&labels, &token, &json!({"labels": ["Support", "billing", " vip ", "support"]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"payload": ["billing", "support", "vip"]}), "trimmed, lower-cased, deduplicated, sorted");
    let r = app.post(&labels, &token, &json!({"labels": ["vip", "lead"]}));
    assert_eq!(r.body, json!({"payload": ["lead", "vip"]}), "the set is replaced, not extended");
    assert_eq!(app.get(&labels, &token).body, json!({"payload": ["lead", "vip"]}));
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM contact_labels WHERE contact_id = {id}")), 2);

    for (body, status, field, code) in [
        (json!({}), 400, "labels", "required"),
        (json!({"labels": "vip"}), 400, "labels", "invalid_type"),
        (json!({"labels": ["vip", 3]}), 400, "labels", "invalid_type"),
        (json!({"labels": ["ok", "  "]}), 422, "labels", "blank"),
        (json!({"labels": ["a,b"]}), 422, "labels", "invalid_format"),
    ] {
        let r = app.post(&labels, &token, &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        r.assert_envelope();
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec![code.to_owned()]), "{body}");
    }
    assert_eq!(app.get(&labels, &token).body, json!({"payload": ["lead", "vip"]}), "refusals change nothing");

    let r = app.post(&labels, &token, &json!({"labels": []}));
    assert_eq!(r.body, json!({"payload": []}));
    for r in [
        app.get(&format!("{}/labels", contact(account, 999_999)), &token),
        app.post(&format!("{}/labels", contact(account, 999_999)), &token, &json!({"labels": []})),
    ] {
        assert_eq!((r.status, r.error_fields()), (404, vec!["id".to_owned()]));
    }
}

#[test]
fn notes_can_be_written_read_rewritten_and_deleted() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let id = app.api_contact(account, &token, &json!({"name": "Noted"}));
    let other = app.api_contact(account, &token, &json!({"name": "Other"}));
    let notes = format!("{}/notes", contact(account, id));

    assert_eq!(app.get(&notes, &token).body, json!([]));
    let first = app.post(&notes, &token, &json!({"content": "  Prefers email.  "}));
    assert_eq!(first.status, 200, "{}", first.body);
    let note = &first.body;
    assert_eq!(note["content"], "Prefers email.");
    assert_eq!(note["contact_id"], id);
    assert_eq!(note["user"]["name"], "Test User", "signed by the token's user");
    assert!(note["created_at"].is_i64() && note["updated_at"].is_i64());
    let first_id = note["id"].as_i64().unwrap();
    let second_id = app.post(&notes, &token, &json!({"content": "Called on Monday."})).body["id"].as_i64().unwrap();

    let listed = app.get(&notes, &token).body;
    let ids: Vec<i64> = listed.as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [second_id, first_id], "newest first");

    let one = format!("{notes}/{first_id}");
    let r = app.get(&one, &token);
    assert_eq!((r.status, r.body["content"].clone()), (200, json!("Prefers email.")));
    let r = app.patch(&one, &token, &json!({"content": "Prefers phone now."}));
    assert_eq!(
        (r.status, r.body["content"].clone(), r.body["id"].clone()),
        (200, json!("Prefers phone now."), json!(first_id))
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM notes WHERE id = {first_id} AND content = 'Prefers phone now.'")),
        1
    );

    for (body, code) in
        [(json!({}), "required"), (json!({"content": " "}), "blank"), (json!({"content": 7}), "invalid_type")]
    {
        for r in [app.post(&notes, &token, &body), app.patch(&one, &token, &body)] {
            assert_eq!(r.status, 400, "{body}: {}", r.body);
            assert_eq!((r.error_fields(), r.error_codes()), (vec!["content".to_owned()], vec![code.to_owned()]));
        }
    }

    // a note is only reachable through its own contact
    let through_other = format!("{}/notes/{first_id}", contact(account, other));
    let missing_contact = format!("{}/notes/{first_id}", contact(account, 999_999));
    for path in [&through_other, &format!("{notes}/999999"), &format!("{notes}/abc")] {
        let r = app.get(path, &token);
        assert_eq!((r.status, r.error_fields()), (404, vec!["note_id".to_owned()]), "{path}: {}", r.body);
        assert_eq!(app.patch(path, &token, &json!({"content": "x"})).status, 404);
        assert_eq!(app.delete(path, &token).status, 404);
    }
    let r = app.get(&missing_contact, &token);
    assert_eq!((r.status, r.error_fields()), (404, vec!["id".to_owned()]));

    let r = app.delete(&one, &token);
    assert_eq!((r.status, r.body.clone()), (200, Value::Null));
    assert_eq!(app.get(&one, &token).status, 404);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM notes WHERE contact_id = {id}")), 1);
}

#[test]
fn contact_inboxes_are_created_with_a_given_or_generated_source_id() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let id = app.api_contact(account, &token, &json!({"name": "Reachable"}));
    let path = format!("{}/contact_inboxes", contact(account, id));

    let r = app.post(&path, &token, &json!({"inbox_id": inbox, "source_id": "wa-4930"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["contact_id"], id);
    assert_eq!(r.body["source_id"], "wa-4930");
    assert_eq!(r.body["inbox"]["id"], inbox);
    assert!(r.body["id"].is_i64());
    let r = app.post(&path, &token, &json!({"inbox_id": inbox}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["source_id"].as_str().unwrap().len(), 36, "a generated UUID");
    let shown = app.get(&contact(account, id), &token).body;
    assert_eq!(shown["payload"]["contact_inboxes"].as_array().unwrap().len(), 2);

    let cases = [
        (json!({"inbox_id": inbox, "source_id": "wa-4930"}), 422, "source_id"),
        (json!({"inbox_id": 999_999}), 404, "inbox_id"),
        (json!({}), 400, "inbox_id"),
        (json!({"inbox_id": "1"}), 400, "inbox_id"),
        (json!({"inbox_id": inbox, "source_id": ""}), 400, "source_id"),
    ];
    for (body, status, field) in cases {
        let r = app.post(&path, &token, &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), [field], "{body}");
    }
    let r = app.post(&format!("{}/contact_inboxes", contact(account, 999_999)), &token, &json!({"inbox_id": inbox}));
    assert_eq!((r.status, r.error_fields()), (404, vec!["id".to_owned()]));
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM contact_inboxes WHERE contact_id = {id}")), 2);
}
