//! Merge Contacts over real HTTP: the documented response, every status, and what happens to the rows.

use application::ports::Role;
use coalesce_tests::{json, TestApp};
use domain::AccountId;
use serde_json::Value;

struct Pair {
    app: TestApp,
    account: AccountId,
    token: String,
    inbox: i64,
    base: i64,
    mergee: i64,
}

/// The reference's worked example, with rows on both sides: base 1 conversation, mergee 3 (plus messages, notes,
/// a contact inbox and overlapping labels).
fn pair() -> Pair {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Website");
    let base = app.insert_contact(account, "Base", Some("old@old.com"), None, Some("base_contact"));
    let mergee = app.insert_contact(account, "", Some("new@new.com"), Some("+12212345"), None);
    app.execute(&format!(
        "UPDATE contacts SET custom_attributes = '{{\"val_test\":\"old\",\"val_empty_old\":\"\"}}' WHERE id = {base}"
    ));
    app.execute(&format!(
        "UPDATE contacts SET custom_attributes = '{{\"val_test\":\"new\",\"val_new\":\"new\",\"val_empty_new\":\"\"}}', \
         additional_attributes = '{{\"city\":\"Paris\"}}' WHERE id = {mergee}"
    ));
    app.give_rows(account, base, inbox, 1, 1, &["vip"]);
    app.give_rows(account, mergee, inbox, 3, 2, &["vip", "lead"]);
    Pair { app, account, token, inbox, base, mergee }
}

fn rows_of(app: &TestApp, contact: i64) -> [i64; 5] {
    [
        app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {contact}")),
        app.count(&format!("SELECT count(*) AS n FROM messages WHERE sender_contact_id = {contact}")),
        app.count(&format!("SELECT count(*) AS n FROM contact_inboxes WHERE contact_id = {contact}")),
        app.count(&format!("SELECT count(*) AS n FROM notes WHERE contact_id = {contact}")),
        app.count(&format!("SELECT count(*) AS n FROM contact_labels WHERE contact_id = {contact}")),
    ]
}

#[test]
fn merge_returns_the_documented_shape() {
    let p = pair();
    let r = p.app.merge(p.account, &p.token, p.base, p.mergee);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], json!(p.base));
    let payload = r.body["payload"].as_array().expect("payload array");
    assert_eq!(payload.len(), 1);
    let c = &payload[0];
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "additional_attributes",
            "availability_status",
            "email",
            "id",
            "name",
            "phone_number",
            "blocked",
            "identifier",
            "thumbnail",
            "custom_attributes",
            "created_at",
            "contact_inboxes"
        ],
        "every documented field, in the reference's order (last_activity_at omitted while null)"
    );
    assert_eq!(c["id"], json!(p.base));
    assert_eq!(c["name"], json!("Base"));
    assert_eq!(c["identifier"], json!("base_contact"));
    assert_eq!(c["email"], json!("old@old.com"), "the base's email wins; the mergee's is discarded");
    assert_eq!(c["phone_number"], json!("+12212345"), "the mergee fills what the base lacks");
    assert_eq!(
        c["custom_attributes"],
        json!({"val_test": "old", "val_new": "new", "val_empty_old": "", "val_empty_new": ""})
    );
    assert_eq!(c["additional_attributes"], json!({"city": "Paris"}));
    assert_eq!(c["blocked"], json!(false));
    assert_eq!(c["availability_status"], json!("offline"));
    assert_eq!(c["thumbnail"], json!(""));
    assert!(c["created_at"].is_i64(), "Unix seconds");
    let inboxes = c["contact_inboxes"].as_array().unwrap();
    assert_eq!(inboxes.len(), 2, "the base keeps its contact inbox and gains the mergee's");
    for ci in inboxes {
        assert!(ci["source_id"].is_string());
        let inbox = &ci["inbox"];
        assert_eq!(inbox["id"], json!(p.inbox));
        assert_eq!(inbox["name"], json!("Website"));
        assert_eq!(inbox["channel_type"], json!("Channel::Api"));
        assert!(inbox["channel_id"].is_i64() && inbox["avatar_url"].is_string());
        assert!(inbox.as_object().unwrap().contains_key("provider"));
    }
}

#[test]
fn merge_moves_every_row_and_deletes_the_mergee() {
    let p = pair();
    let r = p.app.merge(p.account, &p.token, p.base, p.mergee);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rows_of(&p.app, p.base), [4, 4, 2, 3, 2], "conversations, messages, contact inboxes, notes, labels");
    assert_eq!(rows_of(&p.app, p.mergee), [0, 0, 0, 0, 0]);
    assert_eq!(p.app.count(&format!("SELECT count(*) AS n FROM contacts WHERE id = {}", p.mergee)), 0);
    let labels = p.app.count(&format!(
        "SELECT count(*) AS n FROM contact_labels WHERE contact_id = {} AND label IN ('vip', 'lead')",
        p.base
    ));
    assert_eq!(labels, 2, "labels are a union without duplicates");
    // A merge of the (now deleted) mergee is 404.
    let again = p.app.merge(p.account, &p.token, p.base, p.mergee);
    assert_eq!(again.status, 404);
    assert_eq!(again.error_fields(), ["mergee_contact_id"]);
}

#[test]
fn merge_is_recorded_with_an_outbox_event() {
    let p = pair();
    let r = p.app.merge(p.account, &p.token, p.base, p.mergee);
    assert_eq!(r.status, 200);
    let record = p.app.count(&format!(
        "SELECT count(*) AS n FROM contact_merges WHERE account_id = {} AND base_contact_id = {} \
         AND mergee_contact_id = {} AND actor_user_id IS NOT NULL AND moved_conversations = 3 AND moved_messages = 3 \
         AND moved_contact_inboxes = 1 AND moved_notes = 2 AND moved_labels = 2 \
         AND mergee_snapshot->>'email' = 'new@new.com' AND mergee_snapshot->>'phone_number' = '+12212345'",
        p.account, p.base, p.mergee
    ));
    assert_eq!(record, 1, "one audit row with the actor, the counts and the mergee's snapshot");
    let event = p.app.count(&format!(
        "SELECT count(*) AS n FROM outbox_events WHERE event_type = 'contact.merged' \
         AND (payload->>'base_contact_id')::bigint = {} AND (payload->>'mergee_contact_id')::bigint = {} \
         AND (payload->'moved'->>'conversations')::int = 3 AND payload->'mergee'->>'email' = 'new@new.com'",
        p.base, p.mergee
    ));
    assert_eq!(event, 1, "one outbox event with the same facts");
}

#[test]
fn unique_email_and_identifier_move_to_a_base_without_them() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let base = app.insert_contact(account, "Base", None, None, None);
    let mergee = app.insert_contact(account, "Mergee", Some("only@x.com"), Some("+4930123"), Some("crm-42"));
    let r = app.merge(account, &token, base, mergee);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"][0];
    assert_eq!((c["email"].clone(), c["identifier"].clone()), (json!("only@x.com"), json!("crm-42")));
    assert_eq!(c["phone_number"], json!("+4930123"));
}

#[test]
fn self_merge_changes_nothing() {
    let p = pair();
    let before = p.app.dump();
    let r = p.app.merge(p.account, &p.token, p.mergee, p.mergee);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], json!(p.mergee));
    assert_eq!(r.body["payload"][0]["email"], json!("new@new.com"));
    assert_eq!(p.app.dump(), before, "a self-merge must never delete or change anything");
}

#[test]
fn bad_ids_are_400_with_one_error_per_field() {
    let p = pair();
    let path = format!("/api/v1/accounts/{}/actions/contact_merge", p.account);
    let before = p.app.dump();
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("base_contact_id", "required"), ("mergee_contact_id", "required")]),
        (json!({"base_contact_id": p.base}), vec![("mergee_contact_id", "required")]),
        (json!({"base_contact_id": "12", "mergee_contact_id": p.mergee}), vec![("base_contact_id", "invalid_type")]),
        (json!({"base_contact_id": "12abc", "mergee_contact_id": p.mergee}), vec![("base_contact_id", "invalid_type")]),
        (json!({"base_contact_id": 12.7, "mergee_contact_id": p.mergee}), vec![("base_contact_id", "invalid_type")]),
        (json!({"base_contact_id": [12], "mergee_contact_id": p.mergee}), vec![("base_contact_id", "invalid_type")]),
        (json!({"base_contact_id": null, "mergee_contact_id": p.mergee}), vec![("base_contact_id", "required")]),
        (
            json!({"base_contact_id": true, "mergee_contact_id": {}}),
            vec![("base_contact_id", "invalid_type"), ("mergee_contact_id", "invalid_type")],
        ),
        (
            json!({"base_contact_id": 0, "mergee_contact_id": -5}),
            vec![("base_contact_id", "invalid_value"), ("mergee_contact_id", "invalid_value")],
        ),
        (json!({"base_contact_id": p.base, "mergee_contact_id": 1e30}), vec![("mergee_contact_id", "invalid_type")]),
    ];
    for (body, expected) in cases {
        let r = p.app.post(&path, &p.token, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        r.assert_envelope();
        let got: Vec<(String, String)> = r.error_fields().into_iter().zip(r.error_codes()).collect();
        let expected: Vec<(String, String)> =
            expected.iter().map(|(f, c)| ((*f).to_owned(), (*c).to_owned())).collect();
        assert_eq!(got, expected, "{body}");
    }
    // Unknown fields are ignored.
    let r = p.app.post(&path, &p.token, &json!({"base_contact_id": p.base, "mergee_contact_id": p.base, "extra": 1}));
    assert_eq!(r.status, 200);
    assert_eq!(p.app.dump(), before, "no rejected request changed anything");
}

#[test]
fn unknown_or_foreign_contacts_are_404_and_change_nothing() {
    let p = pair();
    let other = p.app.create_account("Other");
    let other_admin = p.app.create_member(other, Role::Administrator);
    let foreign = p.app.insert_contact(other, "Foreign", None, None, None);
    let before = p.app.dump();
    let cases = [
        (p.base, 999_999, vec!["mergee_contact_id"]),
        (999_999, p.mergee, vec!["base_contact_id"]),
        (999_998, 999_999, vec!["base_contact_id", "mergee_contact_id"]),
        (p.base, foreign, vec!["mergee_contact_id"]),
        (foreign, p.mergee, vec!["base_contact_id"]),
    ];
    for (base, mergee, fields) in cases {
        let r = p.app.merge(p.account, &p.token, base, mergee);
        assert_eq!(r.status, 404, "{base} <- {mergee}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), fields);
        assert!(r.error_codes().iter().all(|c| c == "not_found"));
    }
    // The other account's administrator cannot reach this account's contacts either.
    let r = p.app.merge(other, &other_admin, p.base, p.mergee);
    assert_eq!(r.status, 404);
    assert_eq!(p.app.dump(), before);
}

#[test]
fn invalid_phone_after_merge_is_422_and_changes_nothing() {
    let p = pair();
    // Rows imported straight into the database can hold what the API would refuse.
    let bad = p.app.insert_contact(p.account, "Imported", None, Some("0049 30 123"), None);
    p.app.give_rows(p.account, bad, p.inbox, 2, 1, &["imported"]);
    let base = p.app.insert_contact(p.account, "No phone", None, None, None);
    let before = p.app.dump();
    let r = p.app.merge(p.account, &p.token, base, bad);
    assert_eq!(r.status, 422, "{}", r.body);
    r.assert_envelope();
    assert_eq!(r.error_fields(), ["phone_number"]);
    assert_eq!(r.error_codes(), ["invalid_format"]);
    assert_eq!(p.app.dump(), before);
}

#[test]
fn email_taken_by_a_third_contact_is_422_and_every_move_is_rolled_back() {
    let p = pair();
    let third = p.app.insert_contact(p.account, "Third", None, None, None);
    // An operator handed the mergee's email identity to a third contact by hand (the mergee's field still says
    // it): the base cannot take the email over, the identities' unique index says so.
    let mergee = p.app.insert_contact(p.account, "Lost", Some("dup@example.com"), None, None);
    p.app.execute(&format!(
        "WITH third AS (INSERT INTO contact_identity_holders (account_id, id, contact_id) \
         VALUES ({account}, {third}, {third})) \
         UPDATE contact_identities SET holder_id = {third}, is_primary = FALSE WHERE holder_id = {mergee}",
        account = p.account
    ));
    p.app.give_rows(p.account, mergee, p.inbox, 5, 2, &["x", "y"]);
    let base = p.app.insert_contact(p.account, "No email", None, None, None);
    let before = p.app.dump();
    let r = p.app.merge(p.account, &p.token, base, mergee);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.error_fields(), ["email"]);
    assert_eq!(r.error_codes(), ["taken"]);
    assert_eq!(p.app.dump(), before, "the moves made before the failing update are rolled back");
    assert_eq!(rows_of(&p.app, mergee), [5, 5, 1, 2, 2]);
}

#[test]
fn statements_per_merge_do_not_grow_with_rows() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Bulk");
    let mut counts = Vec::new();
    for conversations in [1, 10_000] {
        let base = app.insert_contact(account, "Base", None, None, None);
        let mergee = app.insert_contact(account, "Mergee", None, None, None);
        app.give_rows(account, mergee, inbox, conversations, conversations.min(100), &["a", "b"]);
        let before = app.pg.statement_count();
        let r = app.merge(account, &token, base, mergee);
        assert_eq!(r.status, 200, "{}", r.body);
        counts.push(app.pg.statement_count() - before);
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {base}")),
            conversations
        );
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM messages WHERE sender_contact_id = {base}")),
            conversations
        );
    }
    assert_eq!(counts[0], counts[1], "statements for 1 vs 10,000 conversations: {counts:?}");
    // the token's lookup, BEGIN, the lock of both contacts, the one statement that writes the merge, COMMIT
    assert_eq!(counts[0], 5, "statements per merge: {counts:?}");
}
