//! Duplicate suggestions over real HTTP and PostgreSQL: each reason, dismissals, merges, deletions and undos,
//! accounts kept apart, concurrent writes, and every error.

use std::sync::{Arc, Barrier};
use std::thread;

use application::duplicates::rebuild_duplicates;
use coalesce_tests::{json, Response, TestApp};
use domain::AccountId;
use serde_json::Value;

fn contact(app: &TestApp, account: AccountId, token: &str, body: &Value) -> i64 {
    app.api_contact(account, token, body)
}

/// The contact's suggestions once the duplicates worker has caught up.
fn duplicates_of(app: &TestApp, account: AccountId, token: &str, id: i64) -> Response {
    app.settle_duplicates();
    let r = app.get(&format!("/api/v1/accounts/{account}/contacts/{id}/duplicates"), token);
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

/// The suggested contacts' ids, best first.
fn suggested(app: &TestApp, account: AccountId, token: &str, id: i64) -> Vec<i64> {
    let r = duplicates_of(app, account, token, id);
    r.body["payload"].as_array().unwrap().iter().map(|s| s["contact"]["id"].as_i64().unwrap()).collect()
}

fn codes(suggestion: &Value) -> Vec<&str> {
    suggestion["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect()
}

/// The account's pairs once the duplicates worker has caught up.
fn pairs(app: &TestApp, account: AccountId, token: &str, query: &str) -> Response {
    app.settle_duplicates();
    let r = app.get(&format!("/api/v1/accounts/{account}/contact_duplicates{query}"), token);
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

fn dismiss(app: &TestApp, account: AccountId, token: &str, body: &Value) -> Response {
    app.post(&format!("/api/v1/accounts/{account}/contact_duplicates/dismiss"), token, body)
}

/// The id of the contact's secondary identity with this value (panics when it has none).
fn secondary_identity_id(app: &TestApp, account: AccountId, token: &str, contact: i64, value: &str) -> i64 {
    let r = app.get(&format!("/api/v1/accounts/{account}/contacts/{contact}/identities"), token);
    let identities = r.body["payload"].as_array().unwrap();
    identities.iter().find(|i| i["value"] == value && i["primary"] == false).and_then(|i| i["id"].as_i64()).unwrap()
}

/// Pairs stored that point at a contact that does not exist.
fn stale_pairs(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) AS n FROM contact_duplicate_pairs p WHERE NOT EXISTS \
         (SELECT 1 FROM contacts c WHERE c.id = p.low_id) OR NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = p.high_id)",
    )
}

#[test]
fn each_reason_is_found_with_its_score_and_the_differences() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "WhatsApp");

    // the same local part at another domain, a name spelling it, a similar name
    let jo = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@acme.example"}));
    let jo2 =
        contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jodoe@gmail.com", "identifier": "crm-7"}));
    let r = duplicates_of(&app, account, &token, jo2);
    let s = &r.body["payload"][0];
    assert_eq!(s["contact"]["id"], jo);
    assert_eq!(s["confidence"], 0.85);
    assert_eq!(codes(s), ["same_email_local_part", "similar_name"]);
    assert_eq!(
        s["reasons"][0],
        json!({"code": "same_email_local_part", "field": "email", "detail": "jodoe@gmail.com and jo.doe@acme.example"})
    );
    assert_eq!(s["reasons"][1], json!({"code": "similar_name", "field": "name", "detail": "similarity 1.00"}));
    assert_eq!(
        s["differences"],
        json!({"email": {"this": "jodoe@gmail.com", "other": "jo.doe@acme.example"},
               "identifier": {"this": "crm-7", "other": null}})
    );

    // a name spelling another contact's email, alone
    let max = contact(&app, account, &token, &json!({"name": "Maximilian Mustermann"}));
    let mailed = contact(
        &app,
        account,
        &token,
        &json!({"name": "Webshop order", "email": "mustermann.maximilian@firma.example"}),
    );
    let r = duplicates_of(&app, account, &token, max);
    assert_eq!(r.body["payload"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["payload"][0]["contact"]["id"], mailed);
    assert_eq!(codes(&r.body["payload"][0]), ["name_matches_email"]);
    assert_eq!(r.body["payload"][0]["confidence"], 0.7);

    // a channel address equal to another contact's phone number (given when the contact is created)
    let phone = contact(&app, account, &token, &json!({"name": "Kai", "phone_number": "+4915112345678"}));
    let wa = contact(&app, account, &token, &json!({"name": "K.", "inbox_id": inbox, "source_id": "4915112345678"}));
    let r = duplicates_of(&app, account, &token, phone);
    assert_eq!(r.body["payload"][0]["contact"]["id"], wa);
    assert_eq!(
        r.body["payload"][0]["reasons"],
        json!([{"code": "source_id_matches_phone", "field": "phone_number",
                "detail": "channel address 4915112345678 is +4915112345678"}])
    );
    assert_eq!(r.body["payload"][0]["confidence"], 0.9);

    // a channel address equal to another contact's email (added to an existing contact)
    let kim = contact(&app, account, &token, &json!({"name": "Kim", "email": "kim.lee@shop.example"}));
    let chat = contact(&app, account, &token, &json!({"name": "Visitor 4711"}));
    assert_eq!(suggested(&app, account, &token, chat), Vec::<i64>::new());
    let added = app.post(
        &format!("/api/v1/accounts/{account}/contacts/{chat}/contact_inboxes"),
        &token,
        &json!({"inbox_id": inbox, "source_id": "Kim.Lee@shop.example"}),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    let r = duplicates_of(&app, account, &token, chat);
    assert_eq!(r.body["payload"][0]["contact"]["id"], kim);
    assert_eq!(codes(&r.body["payload"][0]), ["source_id_matches_email"]);

    // the same company domain with the same name; colleagues with other names are no pair
    let maria = contact(&app, account, &token, &json!({"name": "Maria Garcia", "email": "maria@acme-corp.example"}));
    let mg = contact(&app, account, &token, &json!({"name": "Maria Garcia", "email": "mg@acme-corp.example"}));
    contact(&app, account, &token, &json!({"name": "Pedro Alvarez", "email": "pedro@acme-corp.example"}));
    let r = duplicates_of(&app, account, &token, maria);
    assert_eq!(r.body["payload"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["payload"][0]["contact"]["id"], mg);
    assert_eq!(codes(&r.body["payload"][0]), ["same_company_domain", "similar_name"]);
    assert_eq!(r.body["payload"][0]["confidence"], 0.8);

    // an update that makes two contacts alike suggests them; one that makes them different drops them
    let later = contact(&app, account, &token, &json!({"name": "Someone"}));
    let u = app.patch(
        &format!("/api/v1/accounts/{account}/contacts/{later}"),
        &token,
        &json!({"email": "jo.doe@web.example"}),
    );
    assert_eq!(u.status, 200);
    assert!(suggested(&app, account, &token, later).contains(&jo));
    // a new email leaves the old one as a secondary identity, which still says it is Jo's address
    let u =
        app.patch(&format!("/api/v1/accounts/{account}/contacts/{later}"), &token, &json!({"email": "zz@web.example"}));
    assert_eq!(u.status, 200);
    assert!(suggested(&app, account, &token, later).contains(&jo));
    let old = secondary_identity_id(&app, account, &token, later, "jo.doe@web.example");
    let d = app.delete(&format!("/api/v1/accounts/{account}/contacts/{later}/identities/{old}"), &token);
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(suggested(&app, account, &token, later), Vec::<i64>::new());
    assert!(!suggested(&app, account, &token, jo).contains(&later));

    // the account's list: each pair once, best first
    let list = pairs(&app, account, &token, "");
    let confidences: Vec<f64> =
        list.body["payload"].as_array().unwrap().iter().map(|p| p["confidence"].as_f64().unwrap()).collect();
    assert_eq!(confidences, [0.9, 0.9, 0.85, 0.8, 0.7]);
    assert_eq!(list.body["meta"], json!({"count": 5, "current_page": 1}));
    assert_eq!(list.body["payload"][2]["contacts"][0]["id"], jo, "the lower id first");
    assert_eq!(list.body["payload"][2]["differences"]["email"]["this"], "jo.doe@acme.example");
    assert_eq!(pairs(&app, account, &token, "?min_confidence=0.9").body["meta"]["count"], 2);
    assert_eq!(pairs(&app, account, &token, "?min_confidence=0.85").body["meta"]["count"], 3);
    assert_eq!(pairs(&app, account, &token, "?min_confidence=1").body["payload"], json!([]));
}

/// Secondary identities count as the primary ones do: a channel address equal to another contact's old phone
/// number, and an email local part shared with another contact's old address, both kept as secondaries.
/// Adding a secondary identity refreshes its contact's suggestions; removing it takes the pair away again.
#[test]
fn secondary_identities_are_found_like_primary_ones() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "WhatsApp");
    let lena = contact(&app, account, &token, &json!({"name": "Lena Fischer", "email": "lena@acme.example"}));
    let identity = |kind: &str, value: &str| {
        let r = app.post(
            &format!("/api/v1/accounts/{account}/contacts/{lena}/identities"),
            &token,
            &json!({"kind": kind, "value": value}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    };
    identity("phone_number", "+49 176 12345678");
    let old_email = identity("email", "Lena.F@old-job.example");

    // created after the secondaries: found through them
    let wa = contact(&app, account, &token, &json!({"name": "L.", "inbox_id": inbox, "source_id": "4917612345678"}));
    let r = duplicates_of(&app, account, &token, wa);
    assert_eq!(r.body["payload"][0]["contact"]["id"], lena, "{}", r.body);
    assert_eq!(codes(&r.body["payload"][0]), ["source_id_matches_phone"]);
    let gmail = contact(&app, account, &token, &json!({"name": "Lena F", "email": "lenaf@gmail.com"}));
    let r = duplicates_of(&app, account, &token, gmail);
    assert_eq!(r.body["payload"][0]["contact"]["id"], lena, "{}", r.body);
    assert!(codes(&r.body["payload"][0]).contains(&"same_email_local_part"), "{}", r.body);

    // created before the secondary: the identity's own change refreshes the pair in, and its removal out
    let late = contact(&app, account, &token, &json!({"name": "Lena Old", "email": "lena.o@web.example"}));
    assert!(!suggested(&app, account, &token, late).contains(&lena));
    identity("email", "lenao@old-web.example");
    assert!(suggested(&app, account, &token, late).contains(&lena));
    let added = secondary_identity_id(&app, account, &token, lena, "lenao@old-web.example");
    let removed = app.delete(&format!("/api/v1/accounts/{account}/contacts/{lena}/identities/{added}"), &token);
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(!suggested(&app, account, &token, late).contains(&lena));
    assert!(old_email > 0);
}

#[test]
fn the_account_list_pages_every_pair_once() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    // seven people called Ana Silva at one company: 21 pairs
    for i in 0..7 {
        contact(&app, account, &token, &json!({"name": "Ana Silva", "email": format!("a{i}@silva-co.example")}));
    }
    let first = pairs(&app, account, &token, "?page=1");
    let second = pairs(&app, account, &token, "?page=2&min_confidence=0.5");
    assert_eq!(first.body["meta"], json!({"count": 21, "current_page": 1}));
    assert_eq!(second.body["meta"], json!({"count": 21, "current_page": 2}));
    let mut seen: Vec<(i64, i64)> = [&first, &second]
        .iter()
        .flat_map(|r| r.body["payload"].as_array().unwrap().clone())
        .map(|p| (p["contacts"][0]["id"].as_i64().unwrap(), p["contacts"][1]["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(seen.len(), 21);
    assert!(seen.iter().all(|(a, b)| a < b));
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 21, "each pair once");
    assert_eq!(pairs(&app, account, &token, "?page=3").body["payload"], json!([]));
}

#[test]
fn a_dismissed_pair_never_returns() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let a = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@acme.example"}));
    let b = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@gmail.com"}));
    let r = dismiss(&app, account, &token, &json!({"contact_ids": [b, a]}));
    assert_eq!((r.status, &r.body), (200, &json!({"contact_ids": [a, b]})));
    let again = dismiss(&app, account, &token, &json!({"contact_ids": [a, b]}));
    assert_eq!(again.status, 200, "dismissing twice changes nothing");
    assert_eq!(suggested(&app, account, &token, a), Vec::<i64>::new());
    // changes of either contact, and a rebuild, do not bring it back
    app.patch(&format!("/api/v1/accounts/{account}/contacts/{a}"), &token, &json!({"name": "Jo  Doe"}));
    app.patch(&format!("/api/v1/accounts/{account}/contacts/{b}"), &token, &json!({"phone_number": "+4930111"}));
    rebuild_duplicates(&app.pg, account, &mut |_, _| {}).unwrap();
    assert_eq!(suggested(&app, account, &token, b), Vec::<i64>::new());
    assert_eq!(pairs(&app, account, &token, "").body["meta"]["count"], 0);
    // a third look-alike is still suggested with both
    let c = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@web.example"}));
    let mut with_c = suggested(&app, account, &token, c);
    with_c.sort_unstable();
    assert_eq!(with_c, [a, b]);
}

#[test]
fn merged_deleted_and_unmerged_contacts_keep_the_suggestions_right() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let a = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@acme.example"}));
    let b = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@gmail.com"}));
    let c = contact(&app, account, &token, &json!({"name": "Jo Doe", "phone_number": "+4930222"}));
    assert_eq!(pairs(&app, account, &token, "").body["meta"]["count"], 3);

    assert_eq!(app.merge(account, &token, a, b).status, 200);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM contact_duplicate_pairs WHERE {b} IN (low_id, high_id)")),
        0
    );
    assert_eq!(suggested(&app, account, &token, a), [c], "the base is suggested with what is left");
    let gone = app.get(&format!("/api/v1/accounts/{account}/contacts/{b}/duplicates"), &token);
    assert_eq!((gone.status, gone.error_codes()), (404, vec!["merged".to_owned()]));
    assert_eq!(gone.body["merged_into"], a);

    // the undo brings the mergee back and dismisses the pair: someone said these are two people
    let record =
        app.get(&format!("/api/v1/accounts/{account}/contact_merges"), &token).body["payload"][0]["id"].clone();
    let undo = app.post(&format!("/api/v1/accounts/{account}/contact_merges/{record}/undo"), &token, &json!({}));
    assert_eq!(undo.status, 200, "{}", undo.body);
    assert_eq!(suggested(&app, account, &token, a), [c]);
    assert_eq!(suggested(&app, account, &token, b), [c]);
    assert_eq!(app.count("SELECT count(*) AS n FROM contact_duplicate_dismissals"), 1);

    let deleted = app.delete(&format!("/api/v1/accounts/{account}/contacts/{c}"), &token);
    assert_eq!(deleted.status, 200);
    assert_eq!(pairs(&app, account, &token, "").body["meta"]["count"], 0);
    assert_eq!(stale_pairs(&app), 0);
}

#[test]
fn another_accounts_contacts_never_appear() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let (other, other_token) = app.account_with_admin();
    let mine = contact(
        &app,
        account,
        &token,
        &json!({"name": "Jo Doe", "email": "jo.doe@acme.example", "phone_number": "+4930333"}),
    );
    let inbox = app.api_inbox(other, &other_token, "Web");
    let theirs = contact(&app, other, &other_token, &json!({"name": "Jo Doe", "email": "jo.doe@gmail.com"}));
    contact(&app, other, &other_token, &json!({"name": "X", "inbox_id": inbox, "source_id": "+4930333"}));
    assert_eq!(suggested(&app, account, &token, mine), Vec::<i64>::new());
    assert_eq!(pairs(&app, account, &token, "").body["meta"]["count"], 0);
    assert_eq!(pairs(&app, other, &other_token, "").body["meta"]["count"], 0);
    let r = app.get(&format!("/api/v1/accounts/{account}/contacts/{theirs}/duplicates"), &token);
    assert_eq!((r.status, r.error_codes()), (404, vec!["not_found".to_owned()]));
    let r = dismiss(&app, account, &token, &json!({"contact_ids": [mine, theirs]}));
    assert_eq!((r.status, r.error_fields()), (404, vec!["contact_ids".to_owned()]));
}

/// The pairs and their reasons' codes (the details name the two sides in the order of the contact refreshed
/// last; the confidence of a pair by name depends on how common the name was when it was computed).
const SNAPSHOT: &str = "SELECT coalesce(string_agg(low_id || '-' || high_id || ':' || \
                        (SELECT string_agg(r->>'code', '+') FROM jsonb_array_elements(reasons) r), ';' \
                        ORDER BY low_id, high_id), '') AS t FROM contact_duplicate_pairs";

/// Creates, updates and merges of look-alikes from `threads` clients at once; the statuses answered.
fn write_concurrently(app: &Arc<TestApp>, account: AccountId, token: &str, people: &[i64], threads: usize) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (app, barrier, token, people) =
                (Arc::clone(app), Arc::clone(&barrier), token.to_owned(), people.to_vec());
            thread::spawn(move || {
                barrier.wait();
                let mut statuses = Vec::new();
                for round in 0..2 {
                    let body = json!({"name": "Lee Chen", "email": format!("lee.chen@t{t}r{round}.example")});
                    let r = app.post(&format!("/api/v1/accounts/{account}/contacts"), &token, &body);
                    statuses.push(r.status);
                    if t % 2 == 0 {
                        // merges of overlapping pairs: some find their mergee gone (404)
                        let (base, mergee) = (people[(t + round) % 8], people[(t + round + 1) % 8]);
                        statuses.push(app.merge(account, &token, base, mergee).status);
                    } else {
                        // an update that takes a look-alike out of the crowd: its pairs must all go
                        let who = people[(t + round) % 8];
                        let body = json!({"name": "Zoe Quist", "email": format!("zq{t}r{round}@else.example")});
                        let path = format!("/api/v1/accounts/{account}/contacts/{who}");
                        statuses.push(app.patch(&path, &token, &body).status);
                    }
                }
                statuses
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

/// Eight look-alikes (at most 20 in all, so that every contact finds all the others within the candidate
/// search's limits).
fn crowd(app: &TestApp, account: AccountId, token: &str) -> Vec<i64> {
    (0..8)
        .map(|i| {
            contact(app, account, token, &json!({"name": "Lee Chen", "email": format!("lee.chen@host{i}.example")}))
        })
        .collect()
}

/// Creates, updates and merges of look-alikes at once: no request fails, no stored pair points at a contact
/// that is gone, and once the worker has caught up the stored pairs are exactly those a rebuild gives now.
#[test]
fn concurrent_creates_and_merges_leave_no_stale_pair() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let people = crowd(&app, account, &token);
    let statuses = write_concurrently(&app, account, &token, &people, 6);
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");
    assert!(statuses.contains(&200));
    assert_eq!(stale_pairs(&app), 0, "the cascade removes a merged contact's pairs in the merge's transaction");

    app.settle_duplicates();
    assert_eq!(stale_pairs(&app), 0);
    assert!(app.count("SELECT count(*) AS n FROM contact_duplicate_pairs") > 0);
    assert_current(&app, account);
}

/// No stored pair is stale: none touches a contact taken out of the crowd, and every pair a rebuild gives
/// again has the reasons it had. (A rebuild may find fewer pairs in a crowd: each contact's candidate search
/// is bounded, and a rebuild refreshes each contact once.)
fn assert_current(app: &TestApp, account: AccountId) {
    // A Zoe keeps the Lee Chen email it had as a secondary identity (a value that leaves a column stays one),
    // which is a reason of its own: only a Zoe that holds no such email is out of the crowd.
    let left = app.count(
        "SELECT count(*) AS n FROM contact_duplicate_pairs p \
         JOIN contacts l ON l.id = p.low_id JOIN contacts h ON h.id = p.high_id \
         WHERE (l.name = 'Zoe Quist') <> (h.name = 'Zoe Quist') \
           AND NOT EXISTS (SELECT 1 FROM contact_identities i JOIN contact_identity_holders o ON o.id = i.holder_id \
                           WHERE o.contact_id = CASE WHEN l.name = 'Zoe Quist' THEN l.id ELSE h.id END \
                             AND i.kind = 'email' AND dedupe_local_key(i.normalized) = 'leechen')",
    );
    assert_eq!(left, 0, "a pair of a contact that no longer looks like the other (the Zoe Quists may pair up)");
    let parse = |t: String| -> std::collections::BTreeMap<String, String> {
        t.split(';').filter_map(|p| p.split_once(':')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    };
    let stored = parse(text(app, SNAPSHOT));
    assert!(!stored.is_empty());
    rebuild_duplicates(&app.pg, account, &mut |_, _| {}).unwrap();
    let rebuilt = parse(text(app, SNAPSHOT));
    for (pair, codes) in &rebuilt {
        if let Some(had) = stored.get(pair) {
            assert_eq!(had, codes, "the reasons of {pair}");
        }
    }
}

/// Three workers (the server's and two more, as three `coalesce serve` processes would run) and a rebuild
/// running beside concurrent writes: no stale pair, no pair twice, and the result a rebuild gives alone.
#[test]
fn several_workers_and_a_rebuild_never_leave_a_stale_or_double_pair() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let people = crowd(&app, account, &token);
    let settings = server::duplicates_worker::DuplicatesSettings {
        poll_interval: std::time::Duration::from_millis(5),
        batch: 2,
        yield_ratio: 0.0,
        busy_yield_ratio: 0.0,
        ..server::duplicates_worker::DuplicatesSettings::default()
    };
    let extra: Vec<_> = (0..2).map(|_| server::duplicates_worker::spawn(app.db.pool(1), settings.clone())).collect();
    let rebuilding = {
        let app = Arc::clone(&app);
        thread::spawn(move || {
            for _ in 0..3 {
                rebuild_duplicates(&app.pg, account, &mut |_, _| {}).unwrap();
            }
        })
    };
    let statuses = write_concurrently(&app, account, &token, &people, 6);
    rebuilding.join().unwrap();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");
    app.settle_duplicates();
    for worker in extra {
        worker.stop();
    }
    assert_eq!(stale_pairs(&app), 0);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM contact_duplicate_pairs"),
        app.count(
            "SELECT count(*) AS n FROM (SELECT DISTINCT least(low_id, high_id), greatest(low_id, high_id) \
                   FROM contact_duplicate_pairs) p"
        ),
        "each pair once"
    );
    assert_current(&app, account);
}

/// A create, an update, a channel address, a merge and an undo do no duplicates work in the request: the
/// database's triggers queue the contacts, in the request's transaction and without a statement of its own;
/// the worker computes the suggestions afterwards.
#[test]
fn a_request_only_queues_its_contacts_for_the_worker() {
    let mut app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "WhatsApp");
    app.stop_duplicates_worker();
    let queued = |app: &TestApp, id: i64| {
        app.count(&format!("SELECT count(*) AS n FROM contact_duplicate_refreshes WHERE contact_id = {id}"))
    };
    let stored = |app: &TestApp| app.count("SELECT count(*) AS n FROM contact_duplicate_pairs");

    let before = app.pg.statement_count();
    let a = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@acme.example"}));
    // the token's lookup, BEGIN, the identities' holder check, the contact's insert, the outbox event, COMMIT:
    // what a create sends without duplicates (main before the duplicates merge)
    assert_eq!(app.pg.statement_count() - before, CREATE_STATEMENTS, "no statement for the duplicates");
    let b = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@gmail.com"}));
    assert_eq!((queued(&app, a), queued(&app, b)), (1, 1));
    assert_eq!(stored(&app), 0, "nothing computed in the request");

    app.start_duplicates_worker();
    assert_eq!(suggested(&app, account, &token, a), [b]);
    app.stop_duplicates_worker();

    // an update of what the rules read queues the contact; one of what they do not read queues nothing
    app.patch(&format!("/api/v1/accounts/{account}/contacts/{a}"), &token, &json!({"phone_number": "+4930444"}));
    app.patch(&format!("/api/v1/accounts/{account}/contacts/{b}"), &token, &json!({"blocked": true}));
    assert_eq!((queued(&app, a), queued(&app, b)), (1, 0));
    // a channel address queues its contact
    let c = contact(&app, account, &token, &json!({"name": "Someone"}));
    let path = format!("/api/v1/accounts/{account}/contacts/{c}/contact_inboxes");
    let r = app.post(&path, &token, &json!({"inbox_id": inbox, "source_id": "4930444"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(queued(&app, c), 2, "created, then given a channel address");
    // c's channel address is a's phone number: a refresh in any of these requests would have stored a–c
    assert_eq!(stored(&app), 1, "only a–b, computed by the worker");

    // a merge: its pairs with the mergee leave at once (the cascade), and the base is not refreshed in the
    // merge (a refresh of a would store a–c)
    assert_eq!(app.merge(account, &token, a, b).status, 200);
    assert_eq!(stored(&app), 0, "the cascade, and no refresh");
    assert!(queued(&app, a) >= 1, "the update (the merge changed none of a's compared values)");
    // the undo queues both and dismisses their pair in its own transaction
    let record =
        app.get(&format!("/api/v1/accounts/{account}/contact_merges"), &token).body["payload"][0]["id"].clone();
    let undo = app.post(&format!("/api/v1/accounts/{account}/contact_merges/{record}/undo"), &token, &json!({}));
    assert_eq!(undo.status, 200, "{}", undo.body);
    assert!(queued(&app, b) >= 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM contact_duplicate_dismissals"), 1);

    app.start_duplicates_worker();
    assert_eq!(suggested(&app, account, &token, a), [c], "the channel address is a's phone; a–b is dismissed");
    assert_eq!(suggested(&app, account, &token, b), Vec::<i64>::new());
}

/// Statements of a create without a channel address (see the test above).
const CREATE_STATEMENTS: u64 = 6;

fn text(app: &TestApp, query: &str) -> String {
    use diesel::{sql_types::Text, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Text)]
        t: String,
    }
    diesel::sql_query(query).get_result::<T>(&mut app.sql()).unwrap().t
}

#[test]
fn every_error_answers_its_status_and_code() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let a = contact(&app, account, &token, &json!({"name": "Jo Doe"}));
    let b = contact(&app, account, &token, &json!({"name": "Jo Doe", "email": "jo.doe@acme.example"}));
    let base = format!("/api/v1/accounts/{account}");

    for path in ["/contacts/999999/duplicates", "/contacts/0/duplicates", "/contacts/abc/duplicates"] {
        let r = app.get(&format!("{base}{path}"), &token);
        assert_eq!((r.status, r.error_codes()), (404, vec!["not_found".to_owned()]), "{path}");
    }
    for (query, field) in [
        ("?min_confidence=-0.1", "min_confidence"),
        ("?min_confidence=1.5", "min_confidence"),
        ("?min_confidence=abc", "min_confidence"),
        ("?min_confidence=NaN", "min_confidence"),
        ("?page=0", "page"),
        ("?page=x", "page"),
        ("?page=-1", "page"),
    ] {
        let r = app.get(&format!("{base}/contact_duplicates{query}"), &token);
        assert_eq!(
            (r.status, r.error_fields(), r.error_codes()),
            (400, vec![field.to_owned()], vec!["invalid_value".to_owned()]),
            "{query}"
        );
    }
    let r = app.get(&format!("{base}/contact_duplicates?page=0&min_confidence=2"), &token);
    assert_eq!(r.error_fields(), ["page", "min_confidence"], "every bad parameter is named");

    for (body, code) in [
        (json!({}), "required"),
        (json!({"contact_ids": null}), "required"),
        (json!({"contact_ids": 5}), "invalid_type"),
        (json!({"contact_ids": [a, a]}), "invalid_value"),
        (json!({"contact_ids": [a]}), "invalid_value"),
        (json!({"contact_ids": [a, b, a]}), "invalid_value"),
        (json!({"contact_ids": [a, "12"]}), "invalid_value"),
        (json!({"contact_ids": [a, 0]}), "invalid_value"),
        (json!({"contact_ids": [a, 2.5]}), "invalid_value"),
    ] {
        let r = dismiss(&app, account, &token, &body);
        assert_eq!(
            (r.status, r.error_fields(), r.error_codes()),
            (400, vec!["contact_ids".to_owned()], vec![code.to_owned()]),
            "{body}"
        );
    }
    let r = dismiss(&app, account, &token, &json!([a, b]));
    assert_eq!((r.status, r.error_codes()), (400, vec!["invalid_body".to_owned()]));
    let r = dismiss(&app, account, &token, &json!({"contact_ids": [a, 999_999]}));
    assert_eq!(
        (r.status, r.error_fields(), r.error_codes()),
        (404, vec!["contact_ids".to_owned()], vec!["not_found".to_owned()])
    );
    assert_eq!(app.merge(account, &token, a, b).status, 200);
    let r = dismiss(&app, account, &token, &json!({"contact_ids": [a, b]}));
    assert_eq!((r.status, r.error_codes()), (404, vec!["merged".to_owned()]));
    assert_eq!(r.body["merged_into"], a);

    // anonymous callers learn nothing
    let r = app.request("GET", &format!("{base}/contacts/{a}/duplicates"), None, None);
    assert_eq!((r.status, r.error_codes()), (401, vec!["missing_token".to_owned()]));
    let r =
        app.request("POST", &format!("{base}/contact_duplicates/dismiss"), None, Some(&json!({"contact_ids": [1]})));
    assert_eq!(r.status, 401);
    let r = app.request("GET", &format!("{base}/contact_duplicates?page=0"), None, None);
    assert_eq!(r.status, 401);
}
