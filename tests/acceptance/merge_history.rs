//! Merge preview, merge history and merged-away ids.

use application::ports::Role;
use coalesce_tests::{json, TestApp};
use domain::AccountId;

fn setup() -> (TestApp, AccountId, String, i64, i64) {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Web");
    let base = app.insert_contact(account, "Base", None, None, Some("crm-1"));
    let mergee = app.insert_contact(account, "Mergee", Some("m@x.com"), Some("+4930123"), Some("crm-2"));
    app.execute(&format!("UPDATE contacts SET custom_attributes = '{{\"plan\":\"pro\"}}' WHERE id = {mergee}"));
    app.give_rows(account, base, inbox, 1, 1, &["vip"]);
    app.give_rows(account, mergee, inbox, 3, 2, &["vip", "lead"]);
    (app, account, token, base, mergee)
}

#[test]
fn preview_equals_the_following_merge_and_writes_nothing() {
    let (app, account, token, base, mergee) = setup();
    let path = format!("/api/v1/accounts/{account}/actions/contact_merge/preview");
    let before = app.dump();
    let preview = app.post(&path, &token, &json!({"base_contact_id": base, "mergee_contact_id": mergee}));
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(app.dump(), before, "a preview writes nothing");
    assert_eq!(
        preview.body["changes"],
        json!({
            "email": {"from": null, "to": "m@x.com"},
            "phone_number": {"from": null, "to": "+4930123"},
            "custom_attributes": {"from": {}, "to": {"plan": "pro"}}
        })
    );
    assert_eq!(
        preview.body["moves"],
        json!({"conversations": 3, "messages": 3, "contact_inboxes": 1, "notes": 2, "labels": 2})
    );

    let merged = app.merge(account, &token, base, mergee);
    assert_eq!(merged.status, 200);
    assert_eq!(preview.body["payload"], merged.body["payload"][0], "the preview's contact is the merge's contact");
    let history = app.get(&format!("/api/v1/accounts/{account}/contact_merges"), &token);
    assert_eq!(history.body["payload"][0]["moved"], preview.body["moves"], "the preview's counts are the merge's");
}

#[test]
fn preview_refuses_what_the_merge_refuses() {
    let (app, account, token, base, _) = setup();
    let path = format!("/api/v1/accounts/{account}/actions/contact_merge/preview");
    // the mergee's email identity was handed to a third contact by hand (its field still says it)
    let third = app.insert_contact(account, "Third", None, None, None);
    let upper = app.insert_contact(account, "Lost", Some("dup@x.com"), None, None);
    app.execute(&format!(
        "WITH third AS (INSERT INTO contact_identity_holders (account_id, id, contact_id) \
         VALUES ({account}, {third}, {third})) \
         UPDATE contact_identities SET holder_id = {third}, is_primary = FALSE WHERE holder_id = {upper}"
    ));
    let r = app.post(&path, &token, &json!({"base_contact_id": base, "mergee_contact_id": upper}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!((r.error_fields(), r.error_codes()), (vec!["email".to_owned()], vec!["taken".to_owned()]));
    let merge = app.merge(account, &token, base, upper);
    assert_eq!((merge.status, merge.error_codes()), (422, vec!["taken".to_owned()]));

    let r = app.post(&path, &token, &json!({"base_contact_id": base, "mergee_contact_id": 999_999}));
    assert_eq!((r.status, r.error_codes()), (404, vec!["not_found".to_owned()]));
    let r = app.post(&path, &token, &json!({"base_contact_id": "1", "mergee_contact_id": 2}));
    assert_eq!((r.status, r.error_codes()), (400, vec!["invalid_type".to_owned()]));
    let r = app.request("POST", &path, None, Some(&json!({})));
    assert_eq!(r.status, 401);
}

#[test]
fn history_lists_merges_with_actor_and_counts() {
    let (app, account, token, base, mergee) = setup();
    let agent = app.create_member(account, Role::Agent);
    let third = app.insert_contact(account, "Third", None, None, None);
    assert_eq!(app.merge(account, &token, base, mergee).status, 200);
    assert_eq!(app.merge(account, &agent, third, base).status, 200);

    let list = app.get(&format!("/api/v1/accounts/{account}/contact_merges"), &token);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["meta"], json!({"count": 2, "current_page": 1}));
    let records = list.body["payload"].as_array().unwrap();
    assert_eq!(records[0]["base_contact_id"], json!(third), "newest first");
    assert_eq!(records[1]["base_contact_id"], json!(base));
    assert_eq!(records[1]["mergee_contact_id"], json!(mergee));
    assert_eq!(records[1]["mergee"]["email"], json!("m@x.com"), "the mergee's snapshot");
    assert_eq!(records[1]["moved"]["conversations"], json!(3));
    assert_eq!(records[0]["moved"]["conversations"], json!(4), "the second merge moved the base's 1 + 3");
    assert_ne!(records[0]["actor_user_id"], records[1]["actor_user_id"], "each record names its own actor");
    assert!(records[0]["created_at"].is_i64());

    let only_mergee = app.get(&format!("/api/v1/accounts/{account}/contact_merges?contact_id={mergee}"), &token);
    assert_eq!(only_mergee.body["meta"]["count"], json!(1));
    let only_base = app.get(&format!("/api/v1/accounts/{account}/contact_merges?contact_id={base}"), &token);
    assert_eq!(only_base.body["meta"]["count"], json!(2), "base of one merge, mergee of the other");
    let page_two = app.get(&format!("/api/v1/accounts/{account}/contact_merges?page=2"), &token);
    assert_eq!(page_two.body["payload"], json!([]));

    let id = records[1]["id"].as_i64().unwrap();
    let one = app.get(&format!("/api/v1/accounts/{account}/contact_merges/{id}"), &token);
    assert_eq!(one.status, 200);
    assert_eq!(one.body["payload"], records[1]);

    let bad = app.get(&format!("/api/v1/accounts/{account}/contact_merges?page=x"), &token);
    assert_eq!((bad.status, bad.error_codes()), (400, vec!["invalid_query".to_owned()]));
    let missing = app.get(&format!("/api/v1/accounts/{account}/contact_merges/999999"), &token);
    assert_eq!(missing.status, 404);
    missing.assert_envelope();

    // Another account sees none of it.
    let (other, other_token) = app.account_with_admin();
    let theirs = app.get(&format!("/api/v1/accounts/{other}/contact_merges"), &other_token);
    assert_eq!(theirs.body["meta"]["count"], json!(0));
    let foreign = app.get(&format!("/api/v1/accounts/{other}/contact_merges/{id}"), &other_token);
    assert_eq!(foreign.status, 404);
}

#[test]
fn merged_away_ids_answer_merged_with_where_they_went() {
    let (app, account, token, base, mergee) = setup();
    let third = app.insert_contact(account, "Third", None, None, None);
    assert_eq!(app.merge(account, &token, base, mergee).status, 200);
    assert_eq!(app.merge(account, &token, third, base).status, 200);

    // mergee -> base -> third: both old ids now live in third
    for (old, field) in [(mergee, "mergee_contact_id"), (base, "mergee_contact_id")] {
        let r = app.merge(account, &token, third, old);
        assert_eq!(r.status, 404, "{}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_codes(), ["merged"]);
        assert_eq!(r.error_fields(), [field]);
        assert_eq!(r.body["merged_into"], json!(third));
    }
    let r = app.merge(account, &token, mergee, third);
    assert_eq!((r.status, r.body["merged_into"].clone()), (404, json!(third)));
    assert_eq!(r.error_fields(), ["base_contact_id"]);

    // A never-existing id is a plain not_found, without merged_into.
    let r = app.merge(account, &token, third, 999_999);
    assert_eq!(r.error_codes(), ["not_found"]);
    assert!(r.body.get("merged_into").is_none());
}

#[test]
fn merged_away_ids_on_the_contact_routes() {
    let (app, account, token, base, mergee) = setup();
    let third = app.insert_contact(account, "Third", None, None, None);
    assert_eq!(app.merge(account, &token, base, mergee).status, 200);
    assert_eq!(app.merge(account, &token, third, base).status, 200);
    for old in [mergee, base] {
        let path = format!("/api/v1/accounts/{account}/contacts/{old}");
        for (method, body) in [
            ("GET", None),
            ("PUT", Some(json!({"name": "x"}))),
            ("PATCH", Some(json!({"name": "x"}))),
            ("DELETE", None),
        ] {
            let r = app.request(method, &path, Some(&token), body.as_ref());
            assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
            r.assert_envelope();
            assert_eq!(r.error_codes(), ["merged"], "{method}");
            assert_eq!(r.body["merged_into"], json!(third), "{method}");
        }
    }
    let r = app.get(&format!("/api/v1/accounts/{account}/contacts/999999"), &token);
    assert_eq!(r.error_codes(), ["not_found"]);
    assert!(r.body.get("merged_into").is_none());
}
