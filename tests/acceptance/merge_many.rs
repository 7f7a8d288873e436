//! Field choice on the merge, and merging several contacts at once, over real HTTP and PostgreSQL.

use std::sync::{Arc, Barrier};
use std::thread;

use coalesce_tests::{json, TestApp};
use domain::AccountId;
use serde_json::Value;

struct World {
    app: TestApp,
    account: AccountId,
    token: String,
    inbox: i64,
}

fn world() -> World {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Website");
    World { app, account, token, inbox }
}

impl World {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account)
    }

    fn post(&self, rest: &str, body: &Value) -> coalesce_tests::Response {
        self.app.post(&self.path(rest), &self.token, body)
    }

    /// A contact with every attribute set, and one conversation, note and label of its own.
    fn contact(&self, n: usize) -> i64 {
        let id = self.app.insert_contact(
            self.account,
            &format!("Person {n}"),
            Some(&format!("p{n}.{}@example.com", coalesce_tests::unique())),
            Some(&format!("+49301234{n:03}{}", coalesce_tests::unique() % 100)),
            Some(&format!("crm-{n}-{}", coalesce_tests::unique())),
        );
        self.app.execute(&format!(
            "UPDATE contacts SET custom_attributes = '{{\"tier\": {n}, \"only_{n}\": true}}', \
             additional_attributes = '{{\"city\": \"City {n}\"}}' WHERE id = {id}"
        ));
        self.app.give_rows(self.account, id, self.inbox, 1, 1, &[&format!("label-{n}")]);
        id
    }

    fn get_contact(&self, id: i64) -> coalesce_tests::Response {
        self.app.get(&self.path(&format!("/contacts/{id}")), &self.token)
    }

    fn totals(&self) -> [i64; 4] {
        [
            self.app.count("SELECT count(*) AS n FROM conversations"),
            self.app.count("SELECT count(*) AS n FROM messages"),
            self.app.count("SELECT count(*) AS n FROM notes"),
            self.app.count("SELECT count(*) AS n FROM contact_inboxes"),
        ]
    }
}

const SCALARS: [&str; 4] = ["name", "email", "phone_number", "identifier"];
const OBJECTS: [&str; 2] = ["additional_attributes", "custom_attributes"];

#[test]
fn every_field_follows_the_side_the_caller_chose_and_the_preview_says_so() {
    for side in ["base", "mergee"] {
        let w = world();
        let (base, mergee) = (w.contact(1), w.contact(2));
        let before = [w.get_contact(base).body["payload"].clone(), w.get_contact(mergee).body["payload"].clone()];
        let chosen = &before[usize::from(side == "mergee")];
        let attributes: serde_json::Map<String, Value> =
            SCALARS.iter().chain(&OBJECTS).map(|f| ((*f).to_owned(), json!(side))).collect();
        let body = json!({"base_contact_id": base, "mergee_contact_id": mergee, "attributes": attributes});

        let dump = w.app.dump();
        let preview = w.post("/actions/contact_merge/preview", &body);
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert_eq!(w.app.dump(), dump, "the preview writes nothing");
        let merged = w.post("/actions/contact_merge", &body);
        assert_eq!(merged.status, 200, "{}", merged.body);
        let contact = &merged.body["payload"][0];
        for field in SCALARS.iter().chain(&OBJECTS) {
            assert_eq!(contact[field], chosen[field], "{side}: {field}");
        }
        assert_eq!(contact["id"], json!(base));
        assert_eq!(preview.body["payload"], *contact, "{side}: the preview answers the merge's contact");
        // the rows moved whatever the choice
        assert_eq!(w.app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {base}")), 2);
    }
}

#[test]
fn one_chosen_field_leaves_the_others_to_the_reference_rule() {
    let w = world();
    let base = w.app.insert_contact(w.account, "Base", Some("base@example.com"), None, None);
    let mergee = w.app.insert_contact(w.account, "Mergee", Some("mergee@example.com"), Some("+4930555"), None);
    let body = json!({"base_contact_id": base, "mergee_contact_id": mergee, "attributes": {"email": "mergee"}});
    let r = w.post("/actions/contact_merge", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"][0];
    assert_eq!(c["email"], json!("mergee@example.com"));
    assert_eq!(c["name"], json!("Base"), "the base keeps its name");
    assert_eq!(c["phone_number"], json!("+4930555"), "the mergee still fills what the base lacks");
}

#[test]
fn attributes_null_or_empty_is_the_documented_merge_byte_for_byte() {
    let mut texts = Vec::new();
    for attributes in [None, Some(Value::Null), Some(json!({}))] {
        let w = world();
        let (base, mergee) = (w.contact(1), w.contact(2));
        let mut body = json!({"base_contact_id": base, "mergee_contact_id": mergee});
        if let Some(a) = attributes {
            body["attributes"] = a;
        }
        let r = w.post("/actions/contact_merge", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        // ids, unique values and times differ between worlds, and are all digits: compare the rest, byte for byte
        let normalized = r.text.chars().filter(|c| !c.is_ascii_digit()).collect::<String>();
        texts.push(normalized);
    }
    assert_eq!(texts[0], texts[1]);
    assert_eq!(texts[0], texts[2]);
}

#[test]
fn bad_choices_are_refused_per_member_and_change_nothing() {
    let w = world();
    let (base, mergee) = (w.contact(1), w.contact(2));
    let dump = w.app.dump();
    for (attributes, fields) in [
        (json!({"email": "left"}), vec!["attributes.email"]),
        (json!({"name": "merge"}), vec!["attributes.name"]),
        (
            json!({"custom_attributes": 1, "thumbnail": "base"}),
            vec!["attributes.custom_attributes", "attributes.thumbnail"],
        ),
        (json!("base"), vec!["attributes"]),
    ] {
        for path in ["/actions/contact_merge", "/actions/contact_merge/preview"] {
            let body = json!({"base_contact_id": base, "mergee_contact_id": mergee, "attributes": attributes});
            let r = w.post(path, &body);
            assert_eq!(r.status, 400, "{path} {attributes}: {}", r.body);
            r.assert_envelope();
            assert_eq!(r.error_fields(), fields, "{path} {attributes}");
        }
    }
    assert_eq!(w.app.dump(), dump);
}

#[test]
fn nine_contacts_merge_into_one_with_nine_records_and_everything_moved() {
    let w = world();
    let base = w.contact(0);
    let mergees: Vec<i64> = (1..=9).map(|n| w.contact(n)).collect();
    let totals = w.totals();
    let events_before = w.app.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'contact.merged'");
    let body = json!({"base_contact_id": base, "mergee_contact_ids": mergees,
                      "attributes": {"email": mergees[4], "name": mergees[8], "custom_attributes": "merge",
                                     "phone_number": base}});
    let dump = w.app.dump();
    let preview = w.post("/actions/contact_merge_many/preview", &body);
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(w.app.dump(), dump, "the preview writes nothing");
    let expected_email = w.get_contact(mergees[4]).body["payload"]["email"].clone();
    let expected_phone = w.get_contact(base).body["payload"]["phone_number"].clone();

    let r = w.post("/actions/contact_merge_many", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["payload"][0];
    assert_eq!(r.body["id"], json!(base));
    assert_eq!(c["email"], expected_email);
    assert_eq!(c["name"], json!("Person 9"));
    assert_eq!(c["phone_number"], expected_phone);
    // the objects merged: the base's tier wins, every mergee's own key is added
    assert_eq!(c["custom_attributes"]["tier"], json!(0));
    for n in 1..=9 {
        assert_eq!(c["custom_attributes"][format!("only_{n}")], json!(true));
    }
    assert_eq!(preview.body["payload"], *c, "the preview answered the merge's contact");
    assert_eq!(preview.body["merges"].as_array().map(Vec::len), Some(9));

    assert_eq!(w.totals(), totals, "nothing lost");
    for table in ["conversations", "notes", "contact_inboxes"] {
        assert_eq!(w.app.count(&format!("SELECT count(*) AS n FROM {table} WHERE contact_id = {base}")), 10, "{table}");
    }
    assert_eq!(w.app.count(&format!("SELECT count(*) AS n FROM contact_labels WHERE contact_id = {base}")), 10);
    let merges = r.body["merges"].as_array().expect("merges");
    assert_eq!(merges.len(), 9);
    for (m, mergee) in merges.iter().zip(&mergees) {
        assert_eq!(m["mergee_contact_id"], json!(mergee));
        assert_eq!(m["moved"]["conversations"], json!(1));
        let gone = w.get_contact(*mergee);
        assert_eq!(gone.status, 404);
        assert_eq!(gone.body["merged_into"], json!(base));
    }
    let history = w.app.get(&w.path(&format!("/contact_merges?contact_id={base}")), &w.token);
    assert_eq!(history.body["meta"]["count"], json!(9));
    let events = w.app.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'contact.merged'");
    assert_eq!(events - events_before, 9, "one contact_merged event per mergee");

    // each mergee's merge is undone on its own
    let undo = w.post(&format!("/contact_merges/{}/undo", merges[3]["id"]), &json!({}));
    assert_eq!(undo.status, 200, "{}", undo.body);
    assert_eq!(w.get_contact(mergees[3]).status, 200);
    assert_eq!(w.app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {}", mergees[3])), 1);
}

#[test]
fn a_refusal_at_the_ninth_mergee_changes_nothing() {
    let w = world();
    let base = w.app.insert_contact(w.account, "Base", None, None, None);
    let mut mergees: Vec<i64> = (1..=8).map(|n| w.contact(n)).collect();
    // a row that bypassed validation (imported straight into the database): merging it breaks the base
    let bad = w.app.insert_contact(w.account, "Bad", None, None, Some(&"x".repeat(300)));
    w.app.give_rows(w.account, bad, w.inbox, 2, 1, &["bad"]);
    mergees.push(bad);
    let body = json!({"base_contact_id": base, "mergee_contact_ids": mergees, "attributes": {"identifier": bad}});
    let dump = w.app.dump();
    for path in ["/actions/contact_merge_many/preview", "/actions/contact_merge_many"] {
        let r = w.post(path, &body);
        assert_eq!(r.status, 422, "{path}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), ["identifier"]);
        assert_eq!(w.app.dump(), dump, "{path}: nothing changed");
    }
}

#[test]
fn bad_requests_are_refused_with_a_field_each_and_change_nothing() {
    let w = world();
    let (base, m1, m2) = (w.contact(1), w.contact(2), w.contact(3));
    let dump = w.app.dump();
    let ten: Vec<i64> = (0..10).map(|i| m1 + 1000 + i).collect();
    for (body, fields, codes) in [
        (json!({"base_contact_id": base}), vec!["mergee_contact_ids"], vec!["required"]),
        (json!({"base_contact_id": base, "mergee_contact_ids": []}), vec!["mergee_contact_ids"], vec!["required"]),
        (json!({"base_contact_id": base, "mergee_contact_ids": ten}), vec!["mergee_contact_ids"], vec!["too_long"]),
        (json!({"base_contact_id": base, "mergee_contact_ids": m1}), vec!["mergee_contact_ids"], vec!["invalid_type"]),
        (
            json!({"base_contact_id": base, "mergee_contact_ids": [m1, "x", 0]}),
            vec!["mergee_contact_ids[1]", "mergee_contact_ids[2]"],
            vec!["invalid_value", "invalid_value"],
        ),
        (
            json!({"base_contact_id": base, "mergee_contact_ids": [m1, m2, m1]}),
            vec!["mergee_contact_ids[2]"],
            vec!["duplicate"],
        ),
        (
            json!({"base_contact_id": base, "mergee_contact_ids": [m1, base]}),
            vec!["mergee_contact_ids[1]"],
            vec!["invalid_value"],
        ),
        (
            json!({"base_contact_id": base, "mergee_contact_ids": [m1], "attributes": {"email": m2}}),
            vec!["attributes.email"],
            vec!["invalid_value"],
        ),
        (
            json!({"base_contact_id": base, "mergee_contact_ids": [m1], "attributes": {"email": "base", "avatar": m1}}),
            vec!["attributes.email", "attributes.avatar"],
            vec!["invalid_value", "invalid_value"],
        ),
        (json!({"mergee_contact_ids": [m1]}), vec!["base_contact_id"], vec!["required"]),
    ] {
        for path in ["/actions/contact_merge_many", "/actions/contact_merge_many/preview"] {
            let r = w.post(path, &body);
            assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
            r.assert_envelope();
            assert_eq!(r.error_fields(), fields, "{path} {body}");
            assert_eq!(r.error_codes(), codes, "{path} {body}");
        }
    }
    assert_eq!(w.app.dump(), dump);
}

#[test]
fn every_unknown_or_merged_contact_is_named_in_the_404() {
    let w = world();
    let (base, m1, m2, m3) = (w.contact(1), w.contact(2), w.contact(3), w.contact(4));
    assert_eq!(w.app.merge(w.account, &w.token, m3, m2).status, 200);
    let dump = w.app.dump();
    let body = json!({"base_contact_id": base, "mergee_contact_ids": [m1, m2, 999_999]});
    for path in ["/actions/contact_merge_many", "/actions/contact_merge_many/preview"] {
        let r = w.post(path, &body);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_fields(), ["mergee_contact_ids[1]", "mergee_contact_ids[2]"]);
        assert_eq!(r.error_codes(), ["merged", "not_found"]);
        assert_eq!(r.body["merged_into"], json!(m3));
        assert!(r.body["errors"][1]["message"].as_str().is_some_and(|m| m.contains("999999")), "{}", r.body);
    }
    let r = w.post("/actions/contact_merge_many", &json!({"base_contact_id": 999_998, "mergee_contact_ids": [m1]}));
    assert_eq!(r.status, 404);
    assert_eq!(r.error_fields(), ["base_contact_id"]);
    assert_eq!(w.app.dump(), dump);
}

#[test]
fn a_retried_many_merge_with_its_key_is_replayed_not_repeated() {
    let w = world();
    let (base, m1, m2) = (w.contact(1), w.contact(2), w.contact(3));
    let body = json!({"base_contact_id": base, "mergee_contact_ids": [m1, m2]});
    let path = w.path("/actions/contact_merge_many");
    let send = || {
        let headers = [("api_access_token", w.token.as_str()), ("Idempotency-Key", "many-1")];
        w.app.request_with_headers("POST", &path, &headers, Some(&body))
    };
    let first = send();
    assert_eq!(first.status, 200, "{}", first.body);
    let again = send();
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(w.app.count(&format!("SELECT count(*) AS n FROM contact_merges WHERE base_contact_id = {base}")), 2);
}

#[test]
fn overlapping_many_merges_racing_never_deadlock_or_lose_a_row() {
    let w = world();
    let app = Arc::new(w.app);
    let contacts: Vec<i64> = (0..24)
        .map(|n| {
            let id = app.insert_contact(w.account, &format!("R{n}"), None, None, None);
            app.give_rows(w.account, id, w.inbox, 2, 1, &["race"]);
            id
        })
        .collect();
    let totals = |app: &TestApp| {
        [
            app.count("SELECT count(*) AS n FROM conversations"),
            app.count("SELECT count(*) AS n FROM messages"),
            app.count("SELECT count(*) AS n FROM notes"),
        ]
    };
    let before = totals(&app);
    // 8 requests over overlapping sets: request i merges contacts i*3+1 .. i*3+4 (wrapping) into contact i*3,
    // so each set shares contacts with its neighbours, in both lock orders
    let requests: Vec<(i64, Vec<i64>)> = (0..8)
        .map(|i| {
            let pick = |k: usize| contacts[(i * 3 + k) % contacts.len()];
            if i % 2 == 0 {
                (pick(0), vec![pick(1), pick(2), pick(3), pick(4)])
            } else {
                (pick(4), vec![pick(3), pick(2), pick(1), pick(0)])
            }
        })
        .collect();
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|(base, mergees)| {
            let (app, barrier, token, account) = (Arc::clone(&app), Arc::clone(&barrier), w.token.clone(), w.account);
            thread::spawn(move || {
                barrier.wait();
                let body = json!({"base_contact_id": base, "mergee_contact_ids": mergees});
                app.post(&format!("/api/v1/accounts/{account}/actions/contact_merge_many"), &token, &body).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().expect("merge thread")).collect();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "only successes and refusals: {statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    assert_eq!(totals(&app), before, "no row lost");
    let orphans = app.count(
        "SELECT count(*) AS n FROM conversations c WHERE NOT EXISTS (SELECT 1 FROM contacts k WHERE k.id = c.contact_id)",
    );
    assert_eq!(orphans, 0);
    let succeeded = i64::try_from(statuses.iter().filter(|s| **s == 200).count()).unwrap_or(0);
    let records = app.count(&format!("SELECT count(*) AS n FROM contact_merges WHERE account_id = {}", w.account));
    assert_eq!(records, succeeded * 4, "four records per successful request, none for a refused one");
    let left = app.count(&format!("SELECT count(*) AS n FROM contacts WHERE account_id = {}", w.account));
    assert_eq!(left, 24 - records, "each record deleted exactly one contact");
}

#[test]
fn statements_grow_with_the_mergees_never_with_their_rows() {
    let w = world();
    let statements = |mergees: usize, rows: i64| {
        let base = w.app.insert_contact(w.account, "Base", None, None, None);
        let ids: Vec<i64> = (0..mergees)
            .map(|_| {
                let id = w.app.insert_contact(w.account, "Mergee", None, None, None);
                w.app.give_rows(w.account, id, w.inbox, rows, rows.min(50), &["a"]);
                id
            })
            .collect();
        let before = w.app.pg.statement_count();
        let r = w.post("/actions/contact_merge_many", &json!({"base_contact_id": base, "mergee_contact_ids": ids}));
        assert_eq!(r.status, 200, "{}", r.body);
        w.app.pg.statement_count() - before
    };
    let (one_small, one_big) = (statements(1, 1), statements(1, 5_000));
    let (three_small, three_big) = (statements(3, 1), statements(3, 5_000));
    assert_eq!(one_small, one_big, "one mergee, 1 vs 5,000 conversations");
    assert_eq!(three_small, three_big, "three mergees, 1 vs 5,000 conversations each");
    let per_mergee = (three_small - one_small) / 2;
    assert!(
        per_mergee > 0 && per_mergee < 10,
        "each mergee adds a pair merge's few statements: {one_small} {three_small}"
    );
    assert_eq!(three_small, one_small + 2 * per_mergee, "statements grow linearly with the mergees");
}
