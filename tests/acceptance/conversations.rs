//! Conversations and messages: start (by contact or source id, with an optional first message), show, list a
//! contact's conversations, post and list messages.

use application::ports::Role;
use coalesce_tests::{json, TestApp};
use domain::AccountId;

fn conversations(account: AccountId) -> String {
    format!("/api/v1/accounts/{account}/conversations")
}

#[test]
fn conversations_are_numbered_per_account_and_show_their_contact() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let contact = app.api_contact(account, &token, &json!({"name": "Carol", "email": "carol@example.com"}));

    let r = app.post(&conversations(account), &token, &json!({"inbox_id": inbox, "contact_id": contact}));
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body;
    assert_eq!(c["id"], 1, "the first conversation of the account is number 1");
    assert_eq!(
        (&c["account_id"], &c["inbox_id"], &c["contact_id"]),
        (&json!(account.get()), &json!(inbox), &json!(contact))
    );
    assert_eq!(c["status"], "open");
    assert!(c["created_at"].is_i64() && c["last_activity_at"].is_i64() && c["timestamp"].is_i64());
    assert_eq!(c["meta"]["channel"], "Channel::Api");
    assert_eq!(c["meta"]["sender"]["id"], contact);
    assert_eq!(c["meta"]["sender"]["email"], "carol@example.com");
    assert!(c["meta"]["sender"].get("contact_inboxes").is_none(), "a sender carries no contact inboxes");
    // the contact got an address in the inbox, reused by the next conversation
    let source_id: String = {
        let shown = app.get(&format!("/api/v1/accounts/{account}/contacts/{contact}"), &token).body;
        assert_eq!(shown["payload"]["contact_inboxes"].as_array().unwrap().len(), 1);
        shown["payload"]["contact_inboxes"][0]["source_id"].as_str().unwrap().to_owned()
    };
    assert_eq!(app.api_conversation(account, &token, inbox, contact), 2);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM contact_inboxes WHERE contact_id = {contact}")), 1);

    // by source id alone, the owner of that address is found
    let r = app.post(&conversations(account), &token, &json!({"inbox_id": inbox, "source_id": source_id}));
    assert_eq!(
        (r.status, r.body["id"].clone(), r.body["contact_id"].clone()),
        (200, json!(3), json!(contact)),
        "{}",
        r.body
    );

    // another account counts from 1 on its own
    let other = app.create_account("Other");
    let other_token = app.create_member(other, Role::Agent);
    let other_inbox = app.api_inbox(other, &other_token, "API");
    let other_contact = app.api_contact(other, &other_token, &json!({}));
    assert_eq!(app.api_conversation(other, &other_token, other_inbox, other_contact), 1);

    let r = app.get(&format!("{}/2", conversations(account)), &token);
    assert_eq!(
        (r.status, r.body["id"].clone(), r.body["meta"]["sender"]["name"].clone()),
        (200, json!(2), json!("Carol"))
    );
    assert_eq!(app.count(&format!("SELECT last_conversation_display_id AS n FROM accounts WHERE id = {account}")), 3);

    let listed = app.get(&format!("/api/v1/accounts/{account}/contacts/{contact}/conversations"), &token);
    assert_eq!(listed.status, 200);
    let mut ids: Vec<i64> =
        listed.body["payload"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
    let r = app.get(&format!("/api/v1/accounts/{account}/contacts/999999/conversations"), &token);
    assert_eq!((r.status, r.error_fields()), (404, vec!["id".to_owned()]));
}

#[test]
fn a_first_message_is_posted_with_the_conversation() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let contact = app.api_contact(account, &token, &json!({"name": "Dan"}));
    let r = app.post(
        &conversations(account),
        &token,
        &json!({"inbox_id": inbox, "contact_id": contact, "message": {"content": "Welcome!"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let messages = app.get(&format!("{}/{id}/messages", conversations(account)), &token).body;
    assert_eq!(messages["payload"].as_array().unwrap().len(), 1);
    let m = &messages["payload"][0];
    assert_eq!(
        (&m["content"], &m["message_type"], &m["sender_type"]),
        (&json!("Welcome!"), &json!(1), &json!("user")),
        "outgoing by default"
    );

    // `"message": null`, as the document allows, is no first message
    let r =
        app.post(&conversations(account), &token, &json!({"inbox_id": inbox, "contact_id": contact, "message": null}));
    assert_eq!(r.status, 200, "{}", r.body);
    let silent = app.get(&format!("{}/{}/messages", conversations(account), r.body["id"]), &token).body;
    assert_eq!(silent["payload"].as_array().unwrap().len(), 0);

    let r = app.post(
        &conversations(account),
        &token,
        &json!({"inbox_id": inbox, "contact_id": contact, "message": {"content": "Help!", "message_type": "incoming"}}),
    );
    let id = r.body["id"].as_i64().unwrap();
    let m = &app.get(&format!("{}/{id}/messages", conversations(account)), &token).body["payload"][0];
    assert_eq!(
        (&m["message_type"], &m["sender_type"], &m["sender"]["id"]),
        (&json!(0), &json!("contact"), &json!(contact))
    );
    let shown = app.get(&format!("/api/v1/accounts/{account}/contacts/{contact}"), &token).body;
    assert!(shown["payload"]["last_activity_at"].is_i64(), "the contact became active");
}

#[test]
fn bad_conversations_are_refused_and_write_nothing() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let contact = app.api_contact(account, &token, &json!({"name": "Eve", "inbox_id": inbox, "source_id": "eve-src"}));
    let someone_else = app.api_contact(account, &token, &json!({"name": "Frank"}));
    let before = app.dump();
    for (body, status, field, code) in [
        (json!({"contact_id": contact}), 400, "inbox_id", "required"),
        (json!({"inbox_id": "1", "contact_id": contact}), 400, "inbox_id", "invalid_type"),
        (json!({"inbox_id": inbox, "contact_id": 1.5}), 400, "contact_id", "invalid_type"),
        (json!({"inbox_id": inbox, "contact_id": contact, "message": {"content": " "}}), 400, "message", "blank"),
        (json!({"inbox_id": inbox, "contact_id": contact, "message": "hi"}), 400, "message", "invalid_type"),
        (
            json!({"inbox_id": inbox, "contact_id": contact, "message": {"content": "x", "message_type": "activity"}}),
            400,
            "message",
            "invalid_value",
        ),
        (json!({"inbox_id": 999_999, "contact_id": contact}), 404, "inbox_id", "not_found"),
        (json!({"inbox_id": inbox, "contact_id": 999_999}), 404, "contact_id", "not_found"),
        (json!({"inbox_id": inbox, "source_id": "nobody"}), 404, "source_id", "not_found"),
        (json!({"inbox_id": inbox}), 422, "contact_id", "required"),
        (json!({"inbox_id": inbox, "source_id": "eve-src", "contact_id": someone_else}), 422, "contact_id", "mismatch"),
    ] {
        let r = app.post(&conversations(account), &token, &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        r.assert_envelope();
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec![code.to_owned()]), "{body}");
    }
    assert_eq!(app.dump(), before);
    assert_eq!(
        app.count(&format!("SELECT last_conversation_display_id AS n FROM accounts WHERE id = {account}")),
        0,
        "no number was used up"
    );
    for path in [format!("{}/1", conversations(account)), format!("{}/abc", conversations(account))] {
        let r = app.get(&path, &token);
        assert_eq!((r.status, r.error_fields()), (404, vec!["conversation_id".to_owned()]), "{path}");
    }
}

#[test]
fn messages_have_the_right_sender_and_mark_activity() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let contact = app.api_contact(account, &token, &json!({"name": "Gina"}));
    let id = app.api_conversation(account, &token, inbox, contact);
    let messages = format!("{}/{id}/messages", conversations(account));

    let incoming = app.api_message(account, &token, id, "Hello?", "incoming");
    assert_eq!(incoming["message_type"], 0);
    assert_eq!(incoming["conversation_id"], id, "the conversation's number");
    assert_eq!((&incoming["inbox_id"], &incoming["account_id"]), (&json!(inbox), &json!(account.get())));
    assert_eq!((&incoming["sender_type"], &incoming["sender_id"]), (&json!("contact"), &json!(contact)));
    assert_eq!(incoming["sender"]["name"], "Gina");
    assert_eq!(
        incoming["sender"]["last_activity_at"], incoming["created_at"],
        "the contact is active as of this message"
    );
    assert_eq!(
        (&incoming["content_type"], &incoming["private"], &incoming["status"]),
        (&json!("text"), &json!(false), &json!("sent"))
    );

    let r = app.post(&messages, &token, &json!({"content": "How can I help?"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((&r.body["message_type"], &r.body["sender_type"]), (&json!(1), &json!("user")), "outgoing by default");
    assert_eq!((&r.body["sender"]["name"], &r.body["sender"]["type"]), (&json!("Test User"), &json!("user")));

    let listed = app.get(&messages, &token);
    assert_eq!(listed.status, 200);
    let contents: Vec<&str> =
        listed.body["payload"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["Hello?", "How can I help?"], "oldest first");
    assert_eq!(listed.body["payload"][0]["sender"]["id"], contact);

    let conversation = app.get(&format!("{}/{id}", conversations(account)), &token).body;
    assert_eq!(conversation["last_activity_at"], r.body["created_at"]);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE c.display_id = {id} AND c.account_id = {account} AND c.last_activity_at = (SELECT max(created_at) FROM messages WHERE conversation_id = c.id) AND m.content = 'How can I help?' AND m.sender_user_id IS NOT NULL")),
        1
    );

    // `null`, as the document allows, is the default too
    let nulled = app.post(&messages, &token, &json!({"content": "Still there?", "message_type": null}));
    assert_eq!((nulled.status, &nulled.body["message_type"]), (200, &json!(1)), "{}", nulled.body);
    let sideways = app.post(&messages, &token, &json!({"content": "?", "message_type": "sideways"}));
    assert_eq!((sideways.status, sideways.error_codes()), (400, vec!["invalid_value".to_owned()]));

    let before = app.dump();
    for (body, field, code) in [
        (json!({}), "content", "required"),
        (json!({"content": ""}), "content", "blank"),
        (json!({"content": "x", "message_type": "activity"}), "message_type", "invalid_value"),
        (json!({"content": "x", "message_type": 1}), "message_type", "invalid_value"),
    ] {
        let r = app.post(&messages, &token, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec![code.to_owned()]), "{body}");
    }
    let r = app.post(&format!("{}/999/messages", conversations(account)), &token, &json!({"content": "x"}));
    assert_eq!((r.status, r.error_fields()), (404, vec!["conversation_id".to_owned()]));
    let r = app.get(&format!("{}/999/messages", conversations(account)), &token);
    assert_eq!(r.status, 404);
    assert_eq!(app.dump(), before);
}
