//! Undo a merge over real HTTP and PostgreSQL: merge then undo is the identity on both contacts and their
//! children (a seeded property test), activity after the merge survives and is reported, every refusal changes
//! nothing, undos racing merges lose nothing, and the undo's statement count does not grow with the rows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use application::ports::Role;
use coalesce_tests::{json, Response, TestApp};
use diesel::sql_types::Text;
use diesel::{sql_query, PgConnection, QueryableByName, RunQueryDsl};
use domain::AccountId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn undo(app: &TestApp, account: AccountId, token: &str, merge: i64) -> Response {
    app.request("POST", &format!("/api/v1/accounts/{account}/contact_merges/{merge}/undo"), Some(token), None)
}

fn undo_preview(app: &TestApp, account: AccountId, token: &str, merge: i64) -> Response {
    app.request("POST", &format!("/api/v1/accounts/{account}/contact_merges/{merge}/undo/preview"), Some(token), None)
}

/// Merges over HTTP and returns the merge record's id.
fn merge(app: &TestApp, account: AccountId, token: &str, base: i64, mergee: i64) -> i64 {
    let r = app.merge(account, token, base, mergee);
    assert_eq!(r.status, 200, "merge {mergee} into {base}: {}", r.body);
    last_merge(app)
}

fn last_merge(app: &TestApp) -> i64 {
    app.count("SELECT max(id) AS n FROM contact_merges")
}

fn exec(conn: &mut PgConnection, statement: &str) {
    sql_query(statement).execute(conn).unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn scalar(conn: &mut PgConnection, query: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    sql_query(query).get_result::<N>(conn).unwrap_or_else(|e| panic!("{query}: {e}")).n
}

/// Every row of these contacts and of their children, without `updated_at` (and labels as a set: a label row is
/// re-created, not kept, by a merge and its undo).
fn dump_of(conn: &mut PgConnection, contacts: &[i64]) -> Value {
    #[derive(QueryableByName)]
    struct Dump {
        #[diesel(sql_type = Text)]
        dump: String,
    }
    let ids = format!("ARRAY[{}]::bigint[]", contacts.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let rows = |table: &str, filter: &str| {
        format!(
            "'{table}', (SELECT coalesce(jsonb_agg(to_jsonb(x) - 'updated_at' ORDER BY x.id), '[]') FROM {table} x \
             WHERE {filter})"
        )
    };
    let query = format!(
        "SELECT jsonb_build_object({}, {}, {}, {}, {}, {}, {}, \
            'contact_labels', (SELECT coalesce(jsonb_agg(jsonb_build_array(contact_id, label) ORDER BY contact_id, label), '[]') \
                               FROM contact_labels WHERE contact_id = ANY({ids})))::text AS dump",
        rows("contacts", &format!("id = ANY({ids})")),
        rows("conversations", &format!("contact_id = ANY({ids})")),
        rows(
            "messages",
            &format!(
                "sender_contact_id = ANY({ids}) OR conversation_id IN (SELECT id FROM conversations WHERE contact_id = ANY({ids}))"
            )
        ),
        rows("contact_inboxes", &format!("contact_id = ANY({ids})")),
        rows("notes", &format!("contact_id = ANY({ids})")),
        // every identity with its id, holder, primary flag, source and date, and every holder with its contact
        // (the contacts' rows above carry their merged identities' text): an undo gives each back as it was
        rows(
            "contact_identities",
            &format!("holder_id IN (SELECT id FROM contact_identity_holders WHERE contact_id = ANY({ids}))")
        ),
        rows("contact_identity_holders", &format!("contact_id = ANY({ids})")),
    );
    let text = sql_query(query).get_result::<Dump>(conn).expect("dump").dump;
    serde_json::from_str(&text).expect("dump is JSON")
}

/// A random JSON value, nested up to `depth`.
fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random_range(-1000..1000)),
        3 => json!(["", "x", "  y "][rng.random_range(0..3)]),
        4 => json!(rng.random_range(0.0..1.0)),
        5 => Value::Array((0..rng.random_range(0..3)).map(|_| random_json(rng, depth - 1)).collect()),
        _ => random_object(rng, depth - 1),
    }
}

/// A random JSON object whose keys often collide with another contact's (`k0`..`k3`).
fn random_object(rng: &mut StdRng, depth: u32) -> Value {
    let mut map = serde_json::Map::new();
    for _ in 0..rng.random_range(0..4) {
        map.insert(format!("k{}", rng.random_range(0..4)), random_json(rng, depth));
    }
    Value::Object(map)
}

fn literal(v: Option<&str>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |s| format!("'{}'", s.replace('\'', "''")))
}

/// Inserts a random contact with random children (contact inboxes, conversations with messages, notes, labels)
/// and returns its id.
fn random_contact(conn: &mut PgConnection, rng: &mut StdRng, account: AccountId, inboxes: &[i64], n: u64) -> i64 {
    let name = ["", "Ada", "Bob Lovelace", "Zoë"][rng.random_range(0..4)];
    let email = rng.random_bool(0.5).then(|| format!("u{n}@example.com"));
    let phone = rng.random_bool(0.5).then(|| format!("+1555{n:07}"));
    let identifier = rng.random_bool(0.5).then(|| format!("id-{n}"));
    let additional = random_object(rng, 2).to_string().replace('\'', "''");
    let custom = random_object(rng, 3).to_string().replace('\'', "''");
    let activity = if rng.random_bool(0.5) { "now() - interval '3 days'" } else { "NULL" };
    let contact = scalar(
        conn,
        &format!(
            "INSERT INTO contacts (account_id, name, email, phone_number, identifier, blocked, thumbnail, \
             additional_attributes, custom_attributes, last_activity_at, created_at) \
             VALUES ({account}, {}, {}, {}, {}, {}, {}, '{additional}', '{custom}', {activity}, now() - interval '9 days') \
             RETURNING id AS n",
            literal(Some(name)),
            literal(email.as_deref()),
            literal(phone.as_deref()),
            literal(identifier.as_deref()),
            rng.random_bool(0.2),
            literal(Some(if rng.random_bool(0.3) { "https://x.io/t.png" } else { "" })),
        ),
    );
    // secondary identities, some from the API, some from earlier merges
    for (i, kind) in ["email", "phone_number", "identifier"].into_iter().enumerate() {
        if rng.random_bool(0.4) {
            let value = match kind {
                "email" => format!("alt{n}@example.com"),
                "phone_number" => format!("+1666{n:07}"),
                _ => format!("alt-{n}-{i}"),
            };
            let source = if rng.random_bool(0.5) { "api" } else { "merge" };
            scalar(
                conn,
                &format!(
                    "WITH own AS (INSERT INTO contact_identity_holders (account_id, id, contact_id) \
                         VALUES ({account}, {contact}, {contact}) ON CONFLICT DO NOTHING) \
                     INSERT INTO contact_identities (account_id, holder_id, kind, value, source) \
                     VALUES ({account}, {contact}, '{kind}', '{value}', '{source}') RETURNING id AS n"
                ),
            );
        }
    }
    let mut contact_inboxes = Vec::new();
    for i in 0..rng.random_range(0..3) {
        let inbox = inboxes[rng.random_range(0..inboxes.len())];
        contact_inboxes.push(scalar(
            conn,
            &format!(
                "INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) \
                 VALUES ({account}, {contact}, {inbox}, 'src-{n}-{i}') RETURNING id AS n"
            ),
        ));
    }
    for _ in 0..rng.random_range(0..4) {
        let inbox = inboxes[rng.random_range(0..inboxes.len())];
        let contact_inbox = if contact_inboxes.is_empty() || rng.random_bool(0.3) {
            "NULL".to_owned()
        } else {
            contact_inboxes[rng.random_range(0..contact_inboxes.len())].to_string()
        };
        let conversation = scalar(
            conn,
            &format!(
                "WITH counter AS (UPDATE accounts SET last_conversation_display_id = last_conversation_display_id + 1 \
                                  WHERE id = {account} RETURNING last_conversation_display_id AS display_id) \
                 INSERT INTO conversations (account_id, display_id, inbox_id, contact_id, contact_inbox_id, status) \
                 SELECT {account}, display_id, {inbox}, {contact}, {contact_inbox}, '{}' FROM counter RETURNING id AS n",
                ["open", "resolved", "pending"][rng.random_range(0..3)]
            ),
        );
        for m in 0..rng.random_range(0..4) {
            let (kind, sender) =
                if rng.random_bool(0.7) { ("incoming", contact.to_string()) } else { ("activity", "NULL".to_owned()) };
            exec(
                conn,
                &format!(
                    "INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id) \
                     VALUES ({account}, {conversation}, '{kind}', 'message {m}', {sender})"
                ),
            );
        }
    }
    for i in 0..rng.random_range(0..3) {
        exec(
            conn,
            &format!("INSERT INTO notes (account_id, contact_id, content) VALUES ({account}, {contact}, 'note {i}')"),
        );
    }
    for label in ["vip", "lead", "churn", "b2b"] {
        if rng.random_bool(0.4) {
            exec(
                conn,
                &format!("INSERT INTO contact_labels (account_id, contact_id, label) VALUES ({account}, {contact}, '{label}')"),
            );
        }
    }
    contact
}

/// A message sent by `sender` in one of `owner`'s conversations (the merge moves it by its sender alone).
fn cross_message(conn: &mut PgConnection, account: AccountId, sender: i64, owner: i64) {
    exec(
        conn,
        &format!(
            "INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id) \
             SELECT {account}, id, 'incoming', 'elsewhere', {sender} FROM conversations \
             WHERE contact_id = {owner} ORDER BY id LIMIT 1"
        ),
    );
}

#[test]
fn merge_then_undo_restores_every_row_of_random_contacts() {
    let seed: u64 = std::env::var("COALESCE_UNDO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs())
    });
    let cases: u64 = std::env::var("COALESCE_UNDO_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inboxes = [app.insert_inbox(account, "Web"), app.insert_inbox(account, "Mail")];
    let mut conn = app.sql();
    let mut n = 0;
    for case in 0..cases {
        let ctx = format!("(seed {seed}, case {case}; rerun with COALESCE_UNDO_SEED={seed})");
        let mut next = || {
            n += 1;
            n
        };
        let (na, nb) = (next(), next());
        let base = random_contact(&mut conn, &mut rng, account, &inboxes, na);
        let mergee = random_contact(&mut conn, &mut rng, account, &inboxes, nb);
        // sometimes both sides hold the same kind of unique value, sometimes neither
        if rng.random_bool(0.2) {
            cross_message(&mut conn, account, mergee, base);
        }
        if rng.random_bool(0.2) {
            cross_message(&mut conn, account, base, mergee);
        }
        let before = dump_of(&mut conn, &[base, mergee]);
        assert_eq!(before["contacts"].as_array().map(Vec::len), Some(2), "{ctx}");
        let identities = before["contact_identities"].as_array().map_or(0, Vec::len);

        let r = app.merge(account, &token, base, mergee);
        assert_eq!(r.status, 200, "merge {ctx}: {}", r.body);
        let merged = dump_of(&mut conn, &[base]);
        assert_eq!(
            merged["contact_identities"].as_array().map(Vec::len),
            Some(identities),
            "the base keeps every identity of both {ctx}"
        );
        let id = last_merge(&app);
        let preview = undo_preview(&app, account, &token, id);
        assert_eq!(preview.status, 200, "undo preview {ctx}: {}", preview.body);
        let r = undo(&app, account, &token, id);
        assert_eq!(r.status, 200, "undo {ctx}: {}", r.body);
        assert_eq!(preview.body, r.body, "the preview said what the undo did {ctx}");
        assert_eq!(r.body["conflicts"], json!([]), "{ctx}");
        assert_eq!(
            r.body["kept_on_base"],
            json!({"conversations": 0, "messages": 0, "contact_inboxes": 0, "notes": 0, "labels": 0}),
            "{ctx}"
        );

        let after = dump_of(&mut conn, &[base, mergee]);
        assert_eq!(after, before, "merge then undo changed rows {ctx}");
    }
}

struct Trio {
    app: TestApp,
    account: AccountId,
    token: String,
    a: i64,
    b: i64,
    c: i64,
}

/// Three contacts with rows; `b` holds an email, a phone number and custom attributes the others lack.
fn trio() -> Trio {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Web");
    let a = app.insert_contact(account, "Ann", None, None, Some("ann"));
    let b = app.insert_contact(account, "", Some("bea@example.com"), Some("+15550000001"), None);
    let c = app.insert_contact(account, "Cy", None, None, None);
    app.execute(&format!("UPDATE contacts SET custom_attributes = '{{\"plan\": {{\"tier\": 2}}}}' WHERE id = {b}"));
    app.give_rows(account, a, inbox, 1, 1, &["vip"]);
    app.give_rows(account, b, inbox, 3, 2, &["vip", "lead"]);
    app.give_rows(account, c, inbox, 2, 1, &["churn"]);
    Trio { app, account, token, a, b, c }
}

#[test]
fn undo_answers_both_contacts_and_the_history_shows_it() {
    let t = trio();
    let mut conn = t.app.sql();
    let before = dump_of(&mut conn, &[t.a, t.b]);
    let id = merge(&t.app, t.account, &t.token, t.a, t.b);
    assert_eq!(t.app.get(&format!("/api/v1/accounts/{}/contacts/{}", t.account, t.b), &t.token).status, 404);

    let r = undo(&t.app, t.account, &t.token, id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["base"]["id"], json!(t.a));
    assert_eq!(r.body["base"]["email"], Value::Null);
    assert_eq!(r.body["mergee"]["id"], json!(t.b));
    assert_eq!(r.body["mergee"]["email"], json!("bea@example.com"));
    assert_eq!(r.body["mergee"]["custom_attributes"], json!({"plan": {"tier": 2}}));
    assert_eq!(
        r.body["moved_back"],
        json!({"conversations": 3, "messages": 3, "contact_inboxes": 1, "notes": 2, "labels": 2})
    );
    assert_eq!(
        r.body["deleted_since"],
        json!({"conversations": 0, "messages": 0, "contact_inboxes": 0, "notes": 0, "labels": 0})
    );
    assert_eq!(dump_of(&mut conn, &[t.a, t.b]), before);

    // the mergee's old id answers 200 again everywhere
    let path = |p: &str| format!("/api/v1/accounts/{}/contacts/{}{p}", t.account, t.b);
    for p in ["", "/labels", "/notes", "/conversations"] {
        let r = t.app.get(&path(p), &t.token);
        assert_eq!(r.status, 200, "{p}: {}", r.body);
    }
    // the record shows the undo, and the outbox holds the event
    let record = t.app.get(&format!("/api/v1/accounts/{}/contact_merges/{id}", t.account), &t.token);
    assert!(record.body["payload"]["undone_at"].is_i64(), "{}", record.body);
    assert!(record.body["payload"]["undone_by"].is_i64(), "{}", record.body);
    let list = t.app.get(&format!("/api/v1/accounts/{}/contact_merges", t.account), &t.token);
    assert!(list.body["payload"][0]["undone_at"].is_i64(), "{}", list.body);
    assert_eq!(
        t.app.count(&format!(
            "SELECT count(*) AS n FROM outbox_events WHERE event_type = 'contact.unmerged' \
             AND payload->>'merge_id' = '{id}' AND (payload->'moved_back'->>'conversations')::int = 3"
        )),
        1
    );
    // and the two can be merged again
    merge(&t.app, t.account, &t.token, t.a, t.b);
}

#[test]
fn an_idempotency_key_replays_the_undo() {
    let t = trio();
    let id = merge(&t.app, t.account, &t.token, t.a, t.b);
    let path = format!("/api/v1/accounts/{}/contact_merges/{id}/undo", t.account);
    let headers = [("api_access_token", t.token.as_str()), ("Idempotency-Key", "undo-1")];
    let first = t.app.request_with_headers("POST", &path, &headers, None);
    assert_eq!(first.status, 200, "{}", first.body);
    let second = t.app.request_with_headers("POST", &path, &headers, None);
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.text, first.text);
    assert_eq!(second.header("Idempotent-Replayed"), Some("true"));
    let bad = [("api_access_token", t.token.as_str()), ("Idempotency-Key", "")];
    assert_eq!(t.app.request_with_headers("POST", &path, &bad, None).status, 400);
}

#[test]
fn activity_after_the_merge_survives_the_undo_and_is_reported() {
    let t = trio();
    let id = merge(&t.app, t.account, &t.token, t.a, t.b);
    let base = format!("/api/v1/accounts/{}/contacts/{}", t.account, t.a);
    // a new conversation on the base, an attribute the merge wrote edited, a label added, a moved note deleted
    let inbox = t.app.api_inbox(t.account, &t.token, "Later");
    t.app.api_conversation(t.account, &t.token, inbox, t.a);
    let r = t.app.patch(&base, &t.token, &json!({"phone_number": "+15550000999"}));
    assert_eq!(r.status, 200, "{}", r.body);
    t.app.execute(&format!(
        "INSERT INTO contact_labels (account_id, contact_id, label) VALUES ({}, {}, 'later')",
        t.account, t.a
    ));
    t.app.execute(&format!("DELETE FROM notes WHERE id = (SELECT max(id) FROM notes WHERE contact_id = {})", t.a));

    let r = undo(&t.app, t.account, &t.token, id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["kept_on_base"]["conversations"], json!(1), "{}", r.body);
    assert_eq!(r.body["kept_on_base"]["labels"], json!(1), "{}", r.body);
    assert_eq!(r.body["deleted_since"]["notes"], json!(1), "{}", r.body);
    assert_eq!(r.body["moved_back"]["notes"], json!(1), "{}", r.body);
    assert_eq!(
        r.body["conflicts"],
        json!([{"field": "phone_number", "kept": "+15550000999", "merge_wrote": "+15550000001", "before_merge": null}])
    );
    assert_eq!(r.body["base"]["phone_number"], json!("+15550000999"), "the later edit stays");
    assert_eq!(r.body["base"]["email"], Value::Null, "what was not edited again is restored");
    assert_eq!(r.body["mergee"]["phone_number"], json!("+15550000001"));
    let labels = t.app.get(&format!("{base}/labels"), &t.token);
    let mut labels: Vec<&str> =
        labels.body["payload"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["later", "vip"]);
    assert_eq!(t.app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {}", t.a)), 2);
    assert_eq!(t.app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {}", t.b)), 3);
}

#[test]
fn a_chain_is_undone_newest_first() {
    let t = trio();
    let mut conn = t.app.sql();
    let before = dump_of(&mut conn, &[t.a, t.b, t.c]);
    let first = merge(&t.app, t.account, &t.token, t.a, t.b);
    let second = merge(&t.app, t.account, &t.token, t.c, t.a);

    let unchanged = t.app.dump();
    for r in [undo(&t.app, t.account, &t.token, first), undo_preview(&t.app, t.account, &t.token, first)] {
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(r.error_codes(), ["merge_superseded"]);
        assert_eq!(r.body["superseded_by"], json!(second));
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(&second.to_string()), "{}", r.body);
    }
    assert_eq!(t.app.dump(), unchanged, "a refusal changes nothing");

    assert_eq!(undo(&t.app, t.account, &t.token, second).status, 200);
    assert_eq!(undo(&t.app, t.account, &t.token, first).status, 200);
    assert_eq!(dump_of(&mut conn, &[t.a, t.b, t.c]), before, "all three are back as they were");
}

#[test]
fn every_refusal_changes_nothing() {
    let t = trio();
    let other = t.app.create_account("Other");
    let other_token = t.app.create_member(other, Role::Agent);
    let id = merge(&t.app, t.account, &t.token, t.a, t.b);
    let refused = |merge_id: i64, account: AccountId, token: &str, status: u16, code: &str, field: &str| {
        let before = t.app.dump();
        for r in [undo(&t.app, account, token, merge_id), undo_preview(&t.app, account, token, merge_id)] {
            assert_eq!(r.status, status, "{code}: {}", r.body);
            r.assert_envelope();
            assert_eq!(r.error_codes(), [code]);
            assert_eq!(r.error_fields(), [field]);
        }
        assert_eq!(t.app.dump(), before, "{code} changed rows");
    };

    refused(999_999, t.account, &t.token, 404, "not_found", "id");
    refused(id, other, &other_token, 404, "not_found", "id");

    // older than the window
    t.app.execute(&format!("UPDATE contact_merges SET created_at = created_at - interval '31 days' WHERE id = {id}"));
    refused(id, t.account, &t.token, 409, "undo_window_passed", "id");
    t.app.execute(&format!("UPDATE contact_merges SET created_at = created_at + interval '31 days' WHERE id = {id}"));

    // a third contact took the mergee's email (which the base had inherited, then changed, then deleted from its
    // secondary identities)
    t.app.execute(&format!("UPDATE contacts SET email = 'ann@example.com' WHERE id = {}", t.a));
    t.app.execute(&format!(
        "DELETE FROM contact_identities WHERE value = 'bea@example.com' \
         AND holder_id IN (SELECT id FROM contact_identity_holders WHERE contact_id = {})",
        t.a
    ));
    let third = t.app.insert_contact(t.account, "Third", Some("bea@example.com"), None, None);
    refused(id, t.account, &t.token, 409, "conflict", "email");
    t.app.execute(&format!("DELETE FROM contacts WHERE id = {third}"));

    // recorded before the ledger existed
    t.app.execute(&format!("DELETE FROM contact_merge_ledgers WHERE merge_id = {id}"));
    refused(id, t.account, &t.token, 409, "not_undoable", "id");

    // the base merged away since, then deleted
    let second = merge(&t.app, t.account, &t.token, t.c, t.a);
    refused(id, t.account, &t.token, 409, "merge_superseded", "id");
    assert_eq!(undo(&t.app, t.account, &t.token, second).status, 200);
    let r = t.app.delete(&format!("/api/v1/accounts/{}/contacts/{}", t.account, t.a), &t.token);
    assert_eq!(r.status, 200, "{}", r.body);
    refused(id, t.account, &t.token, 409, "conflict", "base_contact_id");

    // already undone
    refused(second, t.account, &t.token, 409, "already_undone", "id");
}

#[test]
fn a_merge_recorded_before_the_ledger_is_not_undoable() {
    let t = trio();
    let id = merge(&t.app, t.account, &t.token, t.a, t.b);
    t.app.execute(&format!("DELETE FROM contact_merge_ledgers WHERE merge_id = {id}"));
    let before = t.app.dump();
    let r = undo(&t.app, t.account, &t.token, id);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error_codes(), ["not_undoable"]);
    assert_eq!(t.app.dump(), before);
}

#[test]
fn undos_racing_merges_lose_nothing_and_never_deadlock() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Web");
    let contacts: Vec<i64> = (0..6)
        .map(|i| {
            let c = app.insert_contact(account, &format!("Contact {i}"), None, None, None);
            app.give_rows(account, c, inbox, 1 + i, 1, &[["a", "b", "c"][(i % 3) as usize]]);
            c
        })
        .collect();
    let mut conn = app.sql();
    let before = dump_of(&mut conn, &contacts);
    let totals = |conn: &mut PgConnection| {
        ["conversations", "messages", "contact_inboxes", "notes"]
            .map(|t| scalar(conn, &format!("SELECT count(*) AS n FROM {t} WHERE account_id = {account}")))
    };
    let totals_before = totals(&mut conn);

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(7, |d| d.as_secs());
    let ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let (app, token, contacts, ok) = (Arc::clone(&app), token.clone(), contacts.clone(), Arc::clone(&ok));
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed + t);
                for _ in 0..25 {
                    let r = if rng.random_bool(0.5) {
                        let (x, y) = (rng.random_range(0..6), rng.random_range(0..6));
                        app.merge(account, &token, contacts[x], contacts[y])
                    } else {
                        let newest = app.count("SELECT coalesce(max(id), 0) AS n FROM contact_merges");
                        let id = if newest == 0 { 1 } else { rng.random_range(1..=newest) };
                        undo(&app, account, &token, id)
                    };
                    assert!([200, 404, 409].contains(&r.status), "seed {seed}: {} {}", r.status, r.body);
                    if r.status == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked (seed printed above)");
    }
    assert!(ok.load(Ordering::Relaxed) > 0);
    assert_eq!(totals(&mut conn), totals_before, "no row lost (seed {seed})");
    // every contact that was not merged away exists, and every merged-away one does not
    let standing = scalar(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM contact_merges m JOIN contacts c ON c.id = m.mergee_contact_id \
             WHERE m.account_id = {account} AND m.undone_at IS NULL"
        ),
    );
    assert_eq!(standing, 0, "a merged-away contact still exists (seed {seed})");

    // undoing what still stands, newest first, brings every contact back exactly
    let mut remaining = scalar(
        &mut conn,
        &format!("SELECT count(*) AS n FROM contact_merges WHERE account_id = {account} AND undone_at IS NULL"),
    );
    while remaining > 0 {
        let id = scalar(
            &mut conn,
            &format!("SELECT max(id) AS n FROM contact_merges WHERE account_id = {account} AND undone_at IS NULL"),
        );
        let r = undo(&app, account, &token, id);
        assert_eq!(r.status, 200, "undo {id} (seed {seed}): {}", r.body);
        remaining -= 1;
    }
    assert_eq!(dump_of(&mut conn, &contacts), before, "seed {seed}");
}

#[test]
fn statements_per_undo_do_not_grow_with_rows() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Bulk");
    let mut counts = Vec::new();
    for conversations in [1, 100_000] {
        let base = app.insert_contact(account, "Base", None, None, None);
        let mergee = app.insert_contact(account, "Mergee", None, None, None);
        app.give_rows(account, mergee, inbox, conversations, conversations.min(100), &["a", "b"]);
        let id = merge(&app, account, &token, base, mergee);
        let before = app.pg.statement_count();
        let r = undo(&app, account, &token, id);
        assert_eq!(r.status, 200, "{}", r.body);
        counts.push(app.pg.statement_count() - before);
        assert_eq!(r.body["moved_back"]["conversations"], json!(conversations));
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {mergee}")),
            conversations
        );
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM messages WHERE sender_contact_id = {mergee}")),
            conversations
        );
    }
    assert_eq!(counts[0], counts[1], "statements for 1 vs 100,000 conversations: {counts:?}");
    assert!(counts[0] > 5 && counts[0] < 30, "an undo is a handful of statements: {counts:?}");
}
