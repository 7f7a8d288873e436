//! Contacts: create, show, update (PUT and PATCH), delete, and the list with its paging and sorting.

use application::ports::Role;
use coalesce_tests::{json, TestApp};
use domain::AccountId;
use serde_json::Value;

fn contacts(account: AccountId) -> String {
    format!("/api/v1/accounts/{account}/contacts")
}

fn contact(account: AccountId, id: i64) -> String {
    format!("/api/v1/accounts/{account}/contacts/{id}")
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[test]
fn create_answers_the_reference_shape_and_stores_normalized_values() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let r = app.post(
        &contacts(account),
        &token,
        &json!({
            "name": "  Alice Liddell ",
            "email": "Alice@Example.COM",
            "phone_number": "+4930123456",
            "identifier": "ext-1",
            "additional_attributes": {"city": "Berlin"},
            "custom_attributes": {"plan": "pro"},
            "blocked": true,
            "unknown_field": "is ignored"
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"]["contact"];
    let mut expected_keys = [
        "additional_attributes",
        "availability_status",
        "blocked",
        "contact_inboxes",
        "created_at",
        "custom_attributes",
        "email",
        "id",
        "identifier",
        "name",
        "phone_number",
        "thumbnail",
    ];
    expected_keys.sort_unstable();
    // (the order of the keys is checked where the serializer lives, in adapters-http)
    assert_eq!(keys(c), expected_keys, "the reference's fields; last_activity_at omitted while there was no activity");
    assert_eq!(c["name"], "Alice Liddell");
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["phone_number"], "+4930123456");
    assert_eq!(c["identifier"], "ext-1");
    assert_eq!(c["additional_attributes"], json!({"city": "Berlin"}));
    assert_eq!(c["custom_attributes"], json!({"plan": "pro"}));
    assert_eq!(c["blocked"], true);
    assert_eq!(c["availability_status"], "offline");
    assert_eq!(c["thumbnail"], "");
    assert!(c["created_at"].is_i64());
    assert_eq!(c["contact_inboxes"], json!([]));
    assert_eq!(r.body["payload"]["contact_inbox"], Value::Null);
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM contacts WHERE id = {id} AND account_id = {account} \
             AND email = 'alice@example.com' AND blocked AND custom_attributes = '{{\"plan\": \"pro\"}}'"
        )),
        1
    );

    // a contact with nothing at all is valid: name "", objects {}, blocked false
    let r = app.post(&contacts(account), &token, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"]["contact"];
    assert_eq!((&c["name"], &c["email"], &c["blocked"]), (&json!(""), &Value::Null, &json!(false)));
    assert_eq!((&c["additional_attributes"], &c["custom_attributes"]), (&json!({}), &json!({})));
}

#[test]
fn create_with_an_inbox_gives_the_contact_an_address_there() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let r = app.post(&contacts(account), &token, &json!({"name": "Generated", "inbox_id": inbox}));
    assert_eq!(r.status, 200, "{}", r.body);
    let ci = &r.body["payload"]["contact_inbox"];
    assert_eq!(ci["inbox"]["id"], inbox);
    assert_eq!(ci["inbox"]["channel_type"], "Channel::Api");
    let source_id = ci["source_id"].as_str().unwrap();
    assert_eq!(source_id.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "a UUID: {source_id}");
    assert_eq!(r.body["payload"]["contact"]["contact_inboxes"][0]["source_id"], source_id);

    let r = app.post(&contacts(account), &token, &json!({"name": "Chosen", "inbox_id": inbox, "source_id": "crm-42"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["payload"]["contact_inbox"]["source_id"], "crm-42");
    let id = r.body["payload"]["contact"]["id"].as_i64().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM contact_inboxes WHERE contact_id = {id} AND inbox_id = {inbox} AND source_id = 'crm-42'"
        )),
        1
    );
}

#[test]
fn create_refuses_bad_fields_with_one_error_each() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let cases = [
        (json!({"email": "not-an-email"}), "email", "invalid_format"),
        (json!({"email": 5}), "email", "invalid_type"),
        (json!({"phone_number": "030123456"}), "phone_number", "invalid_format"),
        (json!({"phone_number": 4930123456_i64}), "phone_number", "invalid_type"),
        (json!({"identifier": 12}), "identifier", "invalid_type"),
        (json!({"identifier": "x".repeat(256)}), "identifier", "too_long"),
        (json!({"name": "n".repeat(256)}), "name", "too_long"),
        (json!({"additional_attributes": "city=Berlin"}), "additional_attributes", "invalid_type"),
        (json!({"additional_attributes": null}), "additional_attributes", "invalid_type"),
        (json!({"custom_attributes": ["a"]}), "custom_attributes", "invalid_type"),
        (json!({"blocked": "yes"}), "blocked", "invalid_type"),
        (json!({"inbox_id": "1"}), "inbox_id", "invalid_type"),
        (json!({"inbox_id": 0}), "inbox_id", "invalid_value"),
        (json!({"inbox_id": 1, "source_id": "  "}), "source_id", "blank"),
    ];
    for (body, field, code) in cases {
        let r = app.post(&contacts(account), &token, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), [field], "{body}");
        assert_eq!(r.error_codes(), [code], "{body}");
    }
    let r = app.post(&contacts(account), &token, &json!({"email": "bad", "phone_number": "bad", "blocked": 1}));
    assert_eq!(r.status, 400);
    assert_eq!(r.error_fields(), ["blocked", "email", "phone_number"], "every bad field, sorted");

    let r = app.request_raw("POST", &contacts(account), Some(&token), "application/json", b"{\"name\": ");
    assert_eq!((r.status, r.error_codes()), (400, vec!["malformed_json".to_owned()]));
    let r = app.request_raw("POST", &contacts(account), Some(&token), "application/json", b"[1]");
    assert_eq!((r.status, r.error_codes()), (400, vec!["invalid_body".to_owned()]));
    let r = app.request_raw("POST", &contacts(account), Some(&token), "text/plain", b"{}");
    assert_eq!(r.status, 415);
    assert_eq!(app.count("SELECT count(*) AS n FROM contacts"), 0, "nothing was written");
}

#[test]
fn duplicates_in_the_account_are_taken_but_other_accounts_may_reuse_them() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    app.api_contact(
        account,
        &token,
        &json!({"email": "dup@example.com", "phone_number": "+4930111", "identifier": "dup", "inbox_id": inbox, "source_id": "s-1"}),
    );
    let cases = [
        (json!({"email": "DUP@example.com"}), "email"),
        (json!({"phone_number": "+4930111"}), "phone_number"),
        (json!({"identifier": "dup"}), "identifier"),
        (json!({"inbox_id": inbox, "source_id": "s-1"}), "source_id"),
    ];
    for (body, field) in cases {
        let r = app.post(&contacts(account), &token, &body);
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        r.assert_envelope();
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec!["taken".to_owned()]), "{body}");
    }
    let r = app.post(&contacts(account), &token, &json!({"name": "Lost", "inbox_id": 999_999}));
    assert_eq!((r.status, r.error_fields()), (404, vec!["inbox_id".to_owned()]), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) AS n FROM contacts"), 1, "refused creations leave no row behind");

    let other = app.create_account("Other");
    let other_token = app.create_member(other, Role::Agent);
    app.api_contact(
        other,
        &other_token,
        &json!({"email": "dup@example.com", "phone_number": "+4930111", "identifier": "dup"}),
    );
}

#[test]
fn show_answers_the_contact_with_its_contact_inboxes() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "Support API");
    let id = app.api_contact(account, &token, &json!({"name": "Shown", "inbox_id": inbox, "source_id": "src-shown"}));
    let r = app.get(&contact(account, id), &token);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"];
    assert_eq!(c["id"], id);
    assert_eq!(c["name"], "Shown");
    assert_eq!(
        c["contact_inboxes"],
        json!([{"source_id": "src-shown", "inbox": {
            "id": inbox, "avatar_url": "", "channel_id": inbox, "name": "Support API",
            "channel_type": "Channel::Api", "provider": null
        }}])
    );
    for path in [contact(account, 999_999), format!("{}/abc", contacts(account)), contact(account, 0)] {
        let r = app.get(&path, &token);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_codes(), ["not_found"]);
    }
    let r = app.request("GET", &contact(account, id), None, None);
    assert_eq!((r.status, r.error_codes()), (401, vec!["missing_token".to_owned()]));
}

#[test]
fn put_and_patch_change_only_what_is_sent_and_merge_the_attribute_objects() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let id = app.api_contact(
        account,
        &token,
        &json!({
            "name": "Bob", "email": "bob@example.com", "phone_number": "+4930222", "identifier": "bob",
            "additional_attributes": {"city": "Berlin", "company": {"name": "Acme", "size": 10}},
            "custom_attributes": {"plan": "free", "seats": 1}
        }),
    );
    let r = app.put(
        &contact(account, id),
        &token,
        &json!({"custom_attributes": {"plan": "pro", "renewal": "2027-01-01"}, "additional_attributes": {"company": {"name": "Acme Inc"}}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"];
    assert_eq!(c["name"], "Bob", "fields not sent stay");
    assert_eq!(c["email"], "bob@example.com");
    assert_eq!(c["custom_attributes"], json!({"plan": "pro", "seats": 1, "renewal": "2027-01-01"}));
    // shallow: a key sent replaces the stored value of that key whole
    assert_eq!(c["additional_attributes"], json!({"city": "Berlin", "company": {"name": "Acme Inc"}}));
    assert!(c["contact_inboxes"].is_array());

    let r = app.patch(
        &contact(account, id),
        &token,
        &json!({"email": null, "identifier": null, "name": "Robert", "blocked": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"];
    assert_eq!(
        (&c["email"], &c["identifier"], &c["name"], &c["blocked"]),
        (&Value::Null, &Value::Null, &json!("Robert"), &json!(true))
    );
    assert_eq!(c["phone_number"], "+4930222");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM contacts WHERE id = {id} AND email IS NULL AND identifier IS NULL AND blocked"
        )),
        1
    );

    // errors: bad field 400, another contact's email 422, unknown contact 404; none changes anything
    let other = app.api_contact(account, &token, &json!({"email": "taken@example.com"}));
    let before = app.dump();
    let r = app.patch(&contact(account, id), &token, &json!({"phone_number": "12"}));
    assert_eq!((r.status, r.error_fields()), (400, vec!["phone_number".to_owned()]));
    let r = app.put(&contact(account, id), &token, &json!({"email": "TAKEN@example.com"}));
    assert_eq!(
        (r.status, r.error_fields(), r.error_codes()),
        (422, vec!["email".to_owned()], vec!["taken".to_owned()])
    );
    let r = app.patch(&contact(account, 999_999), &token, &json!({"name": "x"}));
    assert_eq!((r.status, r.error_fields()), (404, vec!["id".to_owned()]));
    let r = app.put(&contact(account, other), &token, &json!({"custom_attributes": 3}));
    assert_eq!((r.status, r.error_fields()), (400, vec!["custom_attributes".to_owned()]));
    assert_eq!(app.dump(), before);
}

#[test]
fn delete_is_for_administrators_and_takes_every_row_of_the_contact() {
    let app = TestApp::spawn();
    let (account, admin) = app.account_with_admin();
    let agent = app.create_member(account, Role::Agent);
    let inbox = app.api_inbox(account, &admin, "API");
    let doomed = app.api_contact(account, &admin, &json!({"name": "Doomed", "email": "doomed@example.com"}));
    let keeper = app.api_contact(account, &admin, &json!({"name": "Keeper"}));
    let doomed_conversation = app.api_conversation(account, &admin, inbox, doomed);
    app.api_message(account, &admin, doomed_conversation, "from the contact", "incoming");
    app.api_message(account, &admin, doomed_conversation, "from the agent", "outgoing");
    let keeper_conversation = app.api_conversation(account, &admin, inbox, keeper);
    app.api_message(account, &admin, keeper_conversation, "keeper speaks", "incoming");
    // a message the doomed contact sent in someone else's conversation (possible after merges and imports)
    app.execute(&format!(
        "INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id) \
         SELECT {account}, id, 'incoming', 'stray', {doomed} FROM conversations WHERE account_id = {account} AND display_id = {keeper_conversation}"
    ));
    for (id, label) in [(doomed, "vip"), (keeper, "vip")] {
        let r = app.post(&format!("{}/labels", contact(account, id)), &admin, &json!({"labels": [label]}));
        assert_eq!(r.status, 200);
        let r = app.post(&format!("{}/notes", contact(account, id)), &admin, &json!({"content": "a note"}));
        assert_eq!(r.status, 200);
    }

    let before = app.dump();
    let r = app.delete(&contact(account, doomed), &agent);
    assert_eq!(r.status, 401, "{}", r.body);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["administrator_required"]);
    assert_eq!(app.dump(), before, "an agent deletes nothing");

    let r = app.delete(&contact(account, doomed), &admin);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, Value::Null, "empty body");
    let left =
        |table: &str, condition: &str| app.count(&format!("SELECT count(*) AS n FROM {table} WHERE {condition}"));
    assert_eq!(left("contacts", &format!("id = {doomed}")), 0);
    assert_eq!(left("conversations", &format!("contact_id = {doomed}")), 0);
    assert_eq!(left("messages", &format!("sender_contact_id = {doomed}")), 0);
    assert_eq!(left("contact_inboxes", &format!("contact_id = {doomed}")), 0);
    assert_eq!(left("notes", &format!("contact_id = {doomed}")), 0);
    assert_eq!(left("contact_labels", &format!("contact_id = {doomed}")), 0);
    assert_eq!(left("messages", "content = 'from the agent'"), 0, "the messages of its conversations go too");
    // the keeper keeps everything of its own
    assert_eq!(left("contacts", &format!("id = {keeper}")), 1);
    assert_eq!(left("conversations", &format!("contact_id = {keeper}")), 1);
    assert_eq!(left("messages", "content = 'keeper speaks'"), 1);
    assert_eq!(left("contact_labels", &format!("contact_id = {keeper}")), 1);
    assert_eq!(left("notes", &format!("contact_id = {keeper}")), 1);
    assert_eq!(
        left("outbox_events", &format!("event_type = 'contact.deleted' AND payload->'contact'->>'id' = '{doomed}'")),
        1
    );

    let r = app.delete(&contact(account, doomed), &admin);
    assert_eq!((r.status, r.error_fields()), (404, vec!["id".to_owned()]));
    let r = app.get(&contact(account, doomed), &admin);
    assert_eq!(r.status, 404);
}

#[test]
fn list_pages_by_fifteen_and_sorts_on_each_field() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "API");
    // 20 contacts whose names, emails, phones and activity run in different orders
    for i in 0..20_i64 {
        let id = app.insert_contact(
            account,
            &format!("Name {:02}", 19 - i),
            Some(&format!("e{i:02}@example.com")),
            Some(&format!("+49301{:02}", (i * 7) % 20)),
            None,
        );
        app.execute(&format!(
            "UPDATE contacts SET created_at = now() - interval '{i} minutes', \
             last_activity_at = CASE WHEN {i} % 2 = 0 THEN now() - interval '{} hours' END WHERE id = {id}",
            (i * 3) % 7
        ));
        if i == 0 {
            app.execute(&format!(
                "INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) VALUES ({account}, {id}, {inbox}, 'first')"
            ));
        }
    }
    app.insert_contact(app.create_account("Other"), "Elsewhere", None, None, None);

    let page = |query: &str| {
        let r = app.get(&format!("{}?{query}", contacts(account)), &token);
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        r.body
    };
    let first = page("");
    assert_eq!(first["meta"], json!({"count": 20, "current_page": 1}));
    assert_eq!(first["payload"].as_array().unwrap().len(), 15);
    let second = page("page=2");
    assert_eq!(second["meta"], json!({"count": 20, "current_page": 2}));
    assert_eq!(second["payload"].as_array().unwrap().len(), 5);
    let beyond = page("page=3");
    assert_eq!((beyond["meta"]["count"].clone(), beyond["payload"].clone()), (json!(20), json!([])));
    let all_ids: std::collections::BTreeSet<i64> = first["payload"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["payload"].as_array().unwrap())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(all_ids.len(), 20, "the two pages neither overlap nor skip");
    let with_inbox = first["payload"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["payload"].as_array().unwrap())
        .find(|c| c["contact_inboxes"] != json!([]));
    assert_eq!(
        with_inbox.unwrap()["contact_inboxes"][0]["source_id"],
        "first",
        "list items carry their contact inboxes"
    );

    // each sort key, both directions, checked against the same ordering computed by PostgreSQL
    let expected = |order: &str| -> Vec<i64> {
        let rows: Vec<i64> = (0..15)
            .map(|offset| {
                app.count(&format!(
                    "SELECT id AS n FROM contacts WHERE account_id = {account} ORDER BY {order} LIMIT 1 OFFSET {offset}"
                ))
            })
            .collect();
        rows
    };
    let ids = |body: &Value| -> Vec<i64> {
        body["payload"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };
    for (sort, order) in [
        ("name", "lower(name) ASC, id ASC"),
        ("-name", "lower(name) DESC, id DESC"),
        ("email", "email ASC, id ASC"),
        ("-email", "email DESC, id DESC"),
        ("phone_number", "phone_number ASC, id ASC"),
        ("-phone_number", "phone_number DESC, id DESC"),
        ("last_activity_at", "last_activity_at ASC NULLS LAST, id ASC"),
        ("-last_activity_at", "last_activity_at DESC NULLS LAST, id DESC"),
        ("created_at", "created_at ASC, id ASC"),
        ("-created_at", "created_at DESC, id DESC"),
    ] {
        assert_eq!(ids(&page(&format!("sort={sort}"))), expected(order), "sort={sort}");
    }
    assert_eq!(
        ids(&first),
        expected("last_activity_at DESC NULLS LAST, id DESC"),
        "default: most recently active first"
    );
    let names: Vec<String> = page("sort=name")["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names[0], "Name 00");
    assert_eq!(names[14], "Name 14");

    for (query, field) in [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=-1", "page"),
        ("sort=shoe_size", "sort"),
        ("sort=--name", "sort"),
    ] {
        let r = app.get(&format!("{}?{query}", contacts(account)), &token);
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), [field], "{query}");
    }
    let r = app.get(&format!("{}?page=0&sort=x", contacts(account)), &token);
    assert_eq!(r.error_fields(), ["page", "sort"]);
}

#[test]
fn contact_changes_are_recorded_for_webhooks() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let created = app.post(&format!("/api/v1/accounts/{account}/contacts"), &token, &json!({"name": "Ada"}));
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["payload"]["contact"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/accounts/{account}/contacts/{id}");
    assert_eq!(app.request("PATCH", &path, Some(&token), Some(&json!({"name": "Ada L."}))).status, 200);
    assert_eq!(app.request("DELETE", &path, Some(&token), None).status, 200);
    let events = |t: &str| {
        app.count(&format!(
            "SELECT count(*) AS n FROM outbox_events WHERE event_type = '{t}' AND (payload->'contact'->>'id')::bigint = {id}"
        ))
    };
    assert_eq!((events("contact.created"), events("contact.updated"), events("contact.deleted")), (1, 1, 1));
}

/// GETs sent at once by many clients share statements (`batched_reads`): each still gets its own answer, its
/// own contact for a member, the authentication error otherwise, never another request's contact.
#[test]
fn contacts_read_at_once_by_many_callers_each_get_their_own_answer() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let (other, other_token) = app.account_with_admin();
    let ids: Vec<i64> = (0..8)
        .map(|i| app.insert_contact(account, &format!("Jo {i}"), Some(&format!("jo{i}@example.com")), None, None))
        .collect();
    let theirs = app.insert_contact(other, "Lee", Some("lee@example.com"), None, None);

    std::thread::scope(|s| {
        for client in 0..8_usize {
            let (app, token, other_token, ids) = (&app, &token, &other_token, &ids);
            s.spawn(move || {
                for round in 0..40_usize {
                    let id = ids[(client + round) % ids.len()];
                    let (expected_status, caller) = match round % 4 {
                        0 | 1 => (200, token.as_str()),
                        2 => (401, "no-such-token"),
                        _ => (401, other_token.as_str()),
                    };
                    let r = app.get(&contact(account, id), caller);
                    assert_eq!(r.status, expected_status, "client {client} round {round}: {}", r.body);
                    if expected_status == 200 {
                        assert_eq!(r.body["payload"]["id"], json!(id), "{}", r.body);
                        let n = ids.iter().position(|i| *i == id).unwrap();
                        assert_eq!(r.body["payload"]["email"], json!(format!("jo{n}@example.com")));
                    } else {
                        assert!(r.body["payload"].is_null(), "nothing shown to a stranger: {}", r.body);
                    }
                }
                // the other account's admin reads its own contact, not ours
                let r = app.get(&contact(other, theirs), other_token);
                assert_eq!((r.status, &r.body["payload"]["name"]), (200, &json!("Lee")), "{}", r.body);
            });
        }
    });
}

#[test]
fn showing_a_contact_is_one_statement_with_its_authentication() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Web");
    let id = app.insert_contact(account, "Jo", Some("jo@example.com"), None, None);
    app.give_rows(account, id, inbox, 1, 0, &[]);
    app.give_rows(account, id, inbox, 1, 0, &[]);
    let before = app.pg.statement_count();
    let r = app.get(&contact(account, id), &token);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.pg.statement_count() - before, 1, "the token, the contact and its inboxes in one round trip");
    let inboxes = r.body["payload"]["contact_inboxes"].as_array().map(Vec::len);
    assert_eq!(inboxes, Some(2), "both addresses, oldest first: {}", r.body);
    assert_eq!(r.body["payload"]["email"], json!("jo@example.com"));
    // a wrong token reads nothing it could show: 401, still one statement
    let before = app.pg.statement_count();
    assert_eq!(app.get(&contact(account, id), "wrong").status, 401);
    assert_eq!(app.pg.statement_count() - before, 1);
}
