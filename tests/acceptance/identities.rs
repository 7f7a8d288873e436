//! Identities over HTTP: secondary emails, phone numbers and identifiers, kept through merges and given back by
//! undos, found by lookup and search, normalized, unique per account (the database decides), and refused with
//! the holder named.

use std::thread;

use coalesce_tests::{json, TestApp};
use domain::AccountId;
use serde_json::Value;

struct World {
    app: TestApp,
    account: AccountId,
    token: String,
}

fn world() -> World {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    World { app, account, token }
}

impl World {
    fn a(&self, path: &str) -> String {
        format!("/api/v1/accounts/{}{path}", self.account)
    }

    fn contact(&self, body: &Value) -> i64 {
        self.app.api_contact(self.account, &self.token, body)
    }

    fn lookup(&self, query: &str) -> coalesce_tests::Response {
        self.app.get(&self.a(&format!("/contacts/lookup?{query}")), &self.token)
    }

    fn search(&self, q: &str) -> Vec<i64> {
        let r = self.app.get(&self.a(&format!("/contacts/search?q={q}")), &self.token);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["payload"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    }

    fn identities(&self, contact: i64) -> Vec<(String, String, bool, String)> {
        let r = self.app.get(&self.a(&format!("/contacts/{contact}/identities")), &self.token);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["payload"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let s = |k: &str| i[k].as_str().unwrap().to_owned();
                (s("kind"), s("value"), i["primary"].as_bool().unwrap(), s("source"))
            })
            .collect()
    }
}

fn owned(v: (&str, &str, bool, &str)) -> (String, String, bool, String) {
    (v.0.to_owned(), v.1.to_owned(), v.2, v.3.to_owned())
}

#[test]
fn a_merge_keeps_both_emails_and_phones_findable_and_refuses_the_old_ones() {
    let w = world();
    let base = w.contact(&json!({"name": "Ada", "email": "ada@new.example", "phone_number": "+4930111222"}));
    let mergee = w.contact(&json!({"name": "Ada L.", "email": "ada@old.example", "phone_number": "+49 151 1234-5678"}));
    let preview = w.app.post(
        &w.a("/actions/contact_merge/preview"),
        &w.token,
        &json!({"base_contact_id": base, "mergee_contact_id": mergee}),
    );
    assert_eq!(preview.status, 200, "{}", preview.body);
    let gained: Vec<(&str, &str)> = preview.body["identities_gained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["value"].as_str().unwrap()))
        .collect();
    assert_eq!(gained, [("email", "ada@old.example"), ("phone_number", "+4915112345678")]);

    let r = w.app.merge(w.account, &w.token, base, mergee);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["payload"][0]["email"], "ada@new.example", "the contact JSON keeps its shape: the primary");
    assert_eq!(
        w.identities(base),
        [
            owned(("email", "ada@new.example", true, "api")),
            owned(("phone_number", "+4930111222", true, "api")),
            owned(("email", "ada@old.example", false, "merge")),
            owned(("phone_number", "+4915112345678", false, "merge")),
        ]
    );
    for query in [
        "email=ada@old.example",
        "email=ADA@Old.Example",
        "email=ada@new.example",
        "phone_number=%2B4915112345678",
        "phone_number=%2B49%20(0)151%2012345678",
        "phone_number=%2B4930111222",
    ] {
        let r = w.lookup(query);
        assert_eq!((r.status, r.body["payload"]["id"].as_i64()), (200, Some(base)), "{query}: {}", r.body);
    }
    assert_eq!(w.search("old.example"), [base], "search finds the secondary email");
    assert_eq!(w.search("4915112"), [base], "and the secondary phone number");

    // the mergee's old email is taken, and the refusal names the base
    let r = w.app.post(&w.a("/contacts"), &w.token, &json!({"name": "Again", "email": "Ada@Old.example"}));
    assert_eq!(r.status, 422, "{}", r.body);
    r.assert_envelope();
    assert_eq!((r.error_fields(), r.error_codes()), (vec!["email".to_owned()], vec!["taken".to_owned()]));
    assert_eq!(r.body["errors"][0]["contact_id"], json!(base));
    let other = w.contact(&json!({"name": "Other"}));
    for (method, body) in
        [("PATCH", json!({"phone_number": "+49 (0)151 12345678"})), ("PUT", json!({"email": "ada@old.example"}))]
    {
        let r = w.app.request(method, &w.a(&format!("/contacts/{other}")), Some(&w.token), Some(&body));
        assert_eq!(r.status, 422, "{method}: {}", r.body);
        assert_eq!(r.error_codes(), ["taken"]);
        assert_eq!(r.body["errors"][0]["contact_id"], json!(base));
    }
}

#[test]
fn undo_gives_the_identities_back() {
    let w = world();
    let base = w.contact(&json!({"name": "Base", "identifier": "base-1"}));
    let mergee = w.contact(&json!({"name": "Mergee", "email": "m@example.com", "phone_number": "+4930555"}));
    let secondary = w.app.post(
        &w.a(&format!("/contacts/{mergee}/identities")),
        &w.token,
        &json!({"kind": "identifier", "value": "crm-7"}),
    );
    assert_eq!(secondary.status, 200, "{}", secondary.body);
    let before = (w.identities(base), w.identities(mergee));
    let r = w.app.merge(w.account, &w.token, base, mergee);
    assert_eq!(r.status, 200, "{}", r.body);
    // the base had no email or phone: it takes the mergee's as primaries; the identifier stays secondary
    assert_eq!(
        w.identities(base),
        [
            owned(("email", "m@example.com", true, "merge")),
            owned(("phone_number", "+4930555", true, "merge")),
            owned(("identifier", "base-1", true, "api")),
            owned(("identifier", "crm-7", false, "merge")),
        ]
    );
    assert_eq!(w.search("crm-7"), [base], "the secondary the mergee had, searched on the base");
    let merge_id = w.app.count("SELECT max(id) AS n FROM contact_merges");
    let r = w.app.post(&w.a(&format!("/contact_merges/{merge_id}/undo")), &w.token, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((w.identities(base), w.identities(mergee)), before);
    assert_eq!(w.lookup("identifier=crm-7").body["payload"]["id"], json!(mergee));
    assert_eq!(w.lookup("email=m@example.com").body["payload"]["id"], json!(mergee));
    assert_eq!(w.search("crm-7"), [mergee], "and searched on the mergee again");
}

/// Identities taken in a merge travel on with the base's next merge, and the search follows them there; undoing
/// the later merge gives the middle contact back with the identities it had taken, searchable on it again.
#[test]
fn search_follows_identities_through_chained_merges_and_their_undo() {
    let w = world();
    let first = w.contact(&json!({"name": "First", "email": "first@chain.example"}));
    let middle = w.contact(&json!({"name": "Middle", "email": "middle@chain.example"}));
    let last = w.contact(&json!({"name": "Last", "email": "last@chain.example", "phone_number": "+4930246810"}));
    assert_eq!(w.app.merge(w.account, &w.token, middle, last).status, 200);
    assert_eq!(w.search("last%40chain"), [middle]);
    assert_eq!(w.app.merge(w.account, &w.token, first, middle).status, 200);
    assert_eq!(w.search("last%40chain"), [first], "the identities the middle had taken moved on with it");
    assert_eq!(w.search("middle%40chain"), [first]);
    assert_eq!(w.search("30246810"), [first]);
    assert_eq!(w.search("chain.example"), [first]);

    let merge_id = w.app.count("SELECT max(id) AS n FROM contact_merges");
    let r = w.app.post(&w.a(&format!("/contact_merges/{merge_id}/undo")), &w.token, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.search("last%40chain"), [middle], "back on the middle contact, and no longer on the first");
    assert_eq!(w.search("30246810"), [middle]);
    assert_eq!(w.search("middle%40chain"), [middle]);
    assert_eq!(w.search("first%40chain"), [first]);
    assert_eq!(w.lookup("email=last@chain.example").body["payload"]["id"], json!(middle));
}

#[test]
fn undo_of_a_merge_recorded_before_identities_moved_gives_the_values_back() {
    let w = world();
    let base = w.contact(&json!({"name": "Base"}));
    let mergee = w.contact(&json!({"name": "Mergee", "email": "old@example.com", "identifier": "old-1"}));
    assert_eq!(w.app.merge(w.account, &w.token, base, mergee).status, 200);
    let merge_id = w.app.count("SELECT max(id) AS n FROM contact_merges");
    // as a merge recorded before the identities migration: the mergee's values left on the base as its
    // secondaries (in the base's own holder, as the holders migration finds them), no identities recorded
    w.app.execute(&format!(
        "INSERT INTO contact_identity_holders (account_id, id, contact_id) VALUES ({account}, {base}, {base}) \
         ON CONFLICT DO NOTHING",
        account = w.account
    ));
    w.app.execute(&format!(
        "UPDATE contact_identities SET holder_id = {base}, is_primary = FALSE, source = 'merge' WHERE holder_id = {mergee}"
    ));
    w.app.execute(&format!("DELETE FROM contact_identity_holders WHERE id = {mergee}"));
    w.app.execute(&format!(
        "UPDATE contact_merge_ledgers SET moved_identity_ids = '{{}}', moved_identity_sources = '{{}}', \
         moved_holder_ids = '{{}}' WHERE merge_id = {merge_id}"
    ));
    let r = w.app.post(&w.a(&format!("/contact_merges/{merge_id}/undo")), &w.token, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.identities(mergee),
        [owned(("email", "old@example.com", true, "merge")), owned(("identifier", "old-1", true, "merge"))]
    );
    assert_eq!(w.identities(base), Vec::<(String, String, bool, String)>::new());
    assert_eq!(w.lookup("email=old@example.com").body["payload"]["id"], json!(mergee));
}

#[test]
fn phone_formats_normalize_to_one_number() {
    let w = world();
    let id = w.contact(&json!({"name": "Ada", "phone_number": "+49 151 1234-5678"}));
    let shown = w.app.get(&w.a(&format!("/contacts/{id}")), &w.token);
    assert_eq!(shown.body["payload"]["phone_number"], "+4915112345678");
    for same in ["+49 (0)151 12345678", "+4915112345678"] {
        let r = w.app.post(&w.a("/contacts"), &w.token, &json!({"phone_number": same}));
        assert_eq!((r.status, r.error_codes()), (422, vec!["taken".to_owned()]), "{same}: {}", r.body);
        assert_eq!(r.body["errors"][0]["contact_id"], json!(id));
    }
    // no country code: 400 with the field, as before
    let r = w.app.post(&w.a("/contacts"), &w.token, &json!({"phone_number": "0151 12345678"}));
    assert_eq!((r.status, r.error_fields()), (400, vec!["phone_number".to_owned()]), "{}", r.body);
    assert_eq!(r.error_codes(), ["invalid_format"]);
    // E.164-shaped but unknown to libphonenumber (the reference's own example): kept as given
    let reference = w.contact(&json!({"name": "Ref", "phone_number": "+12212345"}));
    let shown = w.app.get(&w.a(&format!("/contacts/{reference}")), &w.token);
    assert_eq!(shown.body["payload"]["phone_number"], "+12212345");
    assert_eq!(w.lookup("phone_number=%2B12212345").body["payload"]["id"], json!(reference));
}

#[test]
fn concurrent_creates_of_one_email_in_two_spellings_let_exactly_one_win() {
    let w = world();
    for round in 0..5 {
        let spellings = [format!("race{round}@example.com"), format!(" RACE{round}@Example.COM ")];
        let statuses: Vec<(u16, Value)> = thread::scope(|s| {
            let handles: Vec<_> = spellings
                .iter()
                .map(|email| {
                    let w = &w;
                    s.spawn(move || {
                        let r = w.app.post(&w.a("/contacts"), &w.token, &json!({"name": "Racer", "email": email}));
                        (r.status, r.body)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut codes: Vec<u16> = statuses.iter().map(|(s, _)| *s).collect();
        codes.sort_unstable();
        assert_eq!(codes, [200, 422], "round {round}: {statuses:?}");
        let loser = &statuses.iter().find(|(s, _)| *s == 422).unwrap().1;
        assert_eq!(loser["errors"][0]["code"], "taken", "{loser}");
        assert_eq!(loser["errors"][0]["field"], "email", "{loser}");
        let n = w.app.count(&format!(
            "SELECT count(*) AS n FROM contact_identities WHERE account_id = {} AND normalized = 'race{round}@example.com'",
            w.account
        ));
        assert_eq!(n, 1);
    }
}

#[test]
fn identities_of_another_account_are_invisible() {
    let w = world();
    let (other_account, other_token) = w.app.account_with_admin();
    let theirs = w.app.api_contact(other_account, &other_token, &json!({"name": "Theirs", "email": "x@example.com"}));
    let added = w.app.post(
        &format!("/api/v1/accounts/{other_account}/contacts/{theirs}/identities"),
        &other_token,
        &json!({"kind": "email", "value": "y@example.com"}),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    let identity = added.body["id"].as_i64().unwrap();
    // the same values are free here, and nothing of theirs is found or reachable
    assert_eq!(w.lookup("email=y@example.com").status, 404);
    assert_eq!(w.search("y@example"), Vec::<i64>::new());
    let ours = w.contact(&json!({"name": "Ours", "email": "x@example.com"}));
    let r = w.app.post(
        &w.a(&format!("/contacts/{ours}/identities")),
        &w.token,
        &json!({"kind": "email", "value": "y@example.com"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.app.get(&w.a(&format!("/contacts/{theirs}/identities")), &w.token).status, 404);
    assert_eq!(w.app.delete(&w.a(&format!("/contacts/{ours}/identities/{identity}")), &w.token).status, 404);
    let r = w.app.get(&format!("/api/v1/accounts/{other_account}/contacts/lookup?email=y@example.com"), &other_token);
    assert_eq!(r.body["payload"]["id"], json!(theirs));
}

#[test]
fn every_error_of_the_identities_endpoints() {
    let w = world();
    let id = w.contact(&json!({"name": "Ada", "email": "ada@example.com"}));
    let holder = w.contact(&json!({"name": "Bob", "identifier": "bob-1"}));
    let path = w.a(&format!("/contacts/{id}/identities"));
    let post = |body: Value| w.app.post(&path, &w.token, &body);
    let expect = |r: coalesce_tests::Response, status: u16, field: &str, code: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        r.assert_envelope();
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec![code.to_owned()]), "{}", r.body);
        r
    };
    expect(post(json!({"value": "x"})), 400, "kind", "required");
    expect(post(json!({"kind": "fax", "value": "x"})), 400, "kind", "invalid_value");
    expect(post(json!({"kind": 1, "value": "x"})), 400, "kind", "invalid_type");
    expect(post(json!({"kind": "email"})), 400, "value", "required");
    expect(post(json!({"kind": "email", "value": " "})), 400, "value", "blank");
    expect(post(json!({"kind": "email", "value": "nope"})), 400, "value", "invalid_format");
    expect(post(json!({"kind": "phone_number", "value": "030 1234"})), 400, "value", "invalid_format");
    expect(post(json!({"kind": "identifier", "value": "x".repeat(256)})), 400, "value", "too_long");
    let r = expect(post(json!({"kind": "identifier", "value": "bob-1"})), 422, "value", "taken");
    assert_eq!(r.body["errors"][0]["contact_id"], json!(holder));
    let r = expect(post(json!({"kind": "email", "value": "ADA@example.com"})), 422, "value", "taken");
    assert_eq!(r.body["errors"][0]["contact_id"], json!(id), "its own primary is taken too");
    expect(
        w.app.post(&w.a("/contacts/999999/identities"), &w.token, &json!({"kind": "email", "value": "a@b.co"})),
        404,
        "id",
        "not_found",
    );
    assert_eq!(w.app.request("POST", &path, None, Some(&json!({}))).status, 401);

    // deleting: a primary is refused, an unknown or foreign id is 404
    let identities = w.app.get(&path, &w.token);
    let primary = identities.body["payload"][0]["id"].as_i64().unwrap();
    expect(w.app.delete(&format!("{path}/{primary}"), &w.token), 409, "identity_id", "primary_identity");
    expect(w.app.delete(&format!("{path}/999999"), &w.token), 404, "identity_id", "not_found");
    let bobs = w.app.get(&w.a(&format!("/contacts/{holder}/identities")), &w.token);
    let bobs_id = bobs.body["payload"][0]["id"].as_i64().unwrap();
    expect(w.app.delete(&format!("{path}/{bobs_id}"), &w.token), 404, "identity_id", "not_found");
    assert_eq!(w.app.count(&format!("SELECT count(*) AS n FROM contact_identities WHERE id = {bobs_id}")), 1);
    let added = post(json!({"kind": "email", "value": "ada@old.example"}));
    let added = added.body["id"].as_i64().unwrap();
    assert_eq!(w.app.delete(&format!("{path}/{added}"), &w.token).status, 200);
    assert_eq!(w.lookup("email=ada@old.example").status, 404, "a deleted identity is free again");

    // the lookup
    expect(w.lookup("email=a@b.co&identifier=x"), 400, "query", "invalid_query");
    expect(w.lookup(""), 400, "query", "invalid_query");
    expect(w.lookup("email=nope"), 400, "email", "invalid_format");
    expect(w.lookup("phone_number=0301234"), 400, "phone_number", "invalid_format");
    expect(w.lookup("identifier=nobody"), 404, "identifier", "not_found");
    expect(w.lookup("identifier=a%00b"), 400, "identifier", "invalid_value");
    expect(w.lookup("email=a%00b@example.com"), 400, "email", "invalid_value");
    assert_eq!(w.app.request("GET", &w.a("/contacts/lookup?email=ada@example.com"), None, None).status, 401);
    // a contact merged away answers `merged` on its identities
    let r = w.app.merge(w.account, &w.token, holder, id);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = expect(w.app.get(&path, &w.token), 404, "id", "merged");
    assert_eq!(r.body["merged_into"], json!(holder));
}

#[test]
fn changing_a_primary_keeps_the_old_value_as_a_secondary() {
    let w = world();
    let id = w.contact(&json!({"name": "Ada", "email": "ada@one.example"}));
    let r = w.app.patch(&w.a(&format!("/contacts/{id}")), &w.token, &json!({"email": "ada@two.example"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.identities(id),
        [owned(("email", "ada@two.example", true, "api")), owned(("email", "ada@one.example", false, "api"))]
    );
    assert_eq!(w.lookup("email=ada@one.example").body["payload"]["id"], json!(id));
    // and back: the secondary is promoted again, the other one kept
    let r = w.app.patch(&w.a(&format!("/contacts/{id}")), &w.token, &json!({"email": "ada@one.example"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.identities(id),
        [owned(("email", "ada@one.example", true, "api")), owned(("email", "ada@two.example", false, "api"))]
    );
}

/// The mergee's identities stay in their holder after a merge (migration `2026-12-04-000030`): each is still
/// the base's to keep, change and delete. One deleted leaves the search and the lookup and is free again; the
/// ones kept are still found; the value the base took from the mergee is its primary until it changes it, and
/// stays one of its secondaries then.
#[test]
fn the_identities_a_merge_gave_the_base_are_the_bases_to_change_and_delete() {
    let w = world();
    let base = w.contact(&json!({"name": "Base", "email": "base@keep.example"}));
    let mergee = w.contact(&json!({"name": "Mergee", "email": "gone@drop.example", "phone_number": "+4930777888"}));
    assert_eq!(w.app.merge(w.account, &w.token, base, mergee).status, 200);
    assert_eq!(
        w.identities(base),
        [
            owned(("email", "base@keep.example", true, "api")),
            owned(("phone_number", "+4930777888", true, "merge")),
            owned(("email", "gone@drop.example", false, "merge")),
        ]
    );
    assert_eq!(w.search("drop.example"), [base], "the mergee's old email, found through its holder");
    assert_eq!(w.search("30777"), [base]);

    let path = w.a(&format!("/contacts/{base}/identities"));
    let listed = w.app.get(&path, &w.token);
    let id_of = |value: &str| {
        listed.body["payload"].as_array().unwrap().iter().find(|i| i["value"] == value).unwrap()["id"].as_i64().unwrap()
    };
    let phone = w.app.delete(&format!("{path}/{}", id_of("+4930777888")), &w.token);
    assert_eq!((phone.status, phone.error_codes()), (409, vec!["primary_identity".to_owned()]), "{}", phone.body);
    let r = w.app.delete(&format!("{path}/{}", id_of("gone@drop.example")), &w.token);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.search("drop.example"), Vec::<i64>::new(), "a deleted identity is no longer searched");
    assert_eq!(w.search("30777"), [base], "the one kept still is");
    assert_eq!(w.lookup("email=gone@drop.example").status, 404);
    let again = w.contact(&json!({"name": "Again", "email": "gone@drop.example"}));
    assert_eq!(w.lookup("email=gone@drop.example").body["payload"]["id"], json!(again), "and it is free again");

    // the phone number taken from the mergee, replaced: a secondary of the base, still found, still taken
    let r = w.app.patch(&w.a(&format!("/contacts/{base}")), &w.token, &json!({"phone_number": "+4930999000"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.identities(base),
        [
            owned(("email", "base@keep.example", true, "api")),
            owned(("phone_number", "+4930999000", true, "api")),
            owned(("phone_number", "+4930777888", false, "merge")),
        ]
    );
    assert_eq!(w.search("30777"), [base]);
    assert_eq!(w.lookup("phone_number=%2B4930777888").body["payload"]["id"], json!(base));
    let r = w.app.post(&w.a("/contacts"), &w.token, &json!({"name": "Other", "phone_number": "+4930777888"}));
    assert_eq!((r.status, r.body["errors"][0]["contact_id"].clone()), (422, json!(base)), "{}", r.body);
    // and back: the base takes it as its primary again
    let r = w.app.patch(&w.a(&format!("/contacts/{base}")), &w.token, &json!({"phone_number": "+4930777888"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.identities(base),
        [
            owned(("email", "base@keep.example", true, "api")),
            owned(("phone_number", "+4930777888", true, "merge")),
            owned(("phone_number", "+4930999000", false, "api")),
        ]
    );
}
