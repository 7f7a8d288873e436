//! `Idempotency-Key` on the merge: replays are byte-identical and do the work once.

use std::sync::{Arc, Barrier};
use std::thread;

use coalesce_tests::{json, TestApp};

fn merge_path(account: impl std::fmt::Display) -> String {
    format!("/api/v1/accounts/{account}/actions/contact_merge")
}

#[test]
fn a_retry_replays_the_first_response_without_merging_again() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Web");
    let base = app.insert_contact(account, "Base", None, None, None);
    let mergee = app.insert_contact(account, "Mergee", Some("m@x.com"), None, None);
    app.give_rows(account, mergee, inbox, 2, 1, &["x"]);
    let body = json!({"base_contact_id": base, "mergee_contact_id": mergee});
    let headers = [("api_access_token", token.as_str()), ("Idempotency-Key", "merge-42")];

    let first = app.request_with_headers("POST", &merge_path(account), &headers, Some(&body));
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("Idempotent-Replayed"), None);
    let after_first = app.dump();

    for _ in 0..3 {
        let retry = app.request_with_headers("POST", &merge_path(account), &headers, Some(&body));
        assert_eq!(retry.status, 200);
        assert_eq!(retry.text, first.text, "byte-identical replay");
        assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
    }
    assert_eq!(app.dump(), after_first, "the work was done once");
    assert_eq!(app.count("SELECT count(*) AS n FROM contact_merges"), 1);

    // Without the key the same request is a new request: the mergee is gone now.
    let plain = app.merge(account, &token, base, mergee);
    assert_eq!(plain.status, 404);

    // The same key with another body is refused.
    let other = app.request_with_headers(
        "POST",
        &merge_path(account),
        &headers,
        Some(&json!({"base_contact_id": base, "mergee_contact_id": base})),
    );
    assert_eq!(other.status, 422, "{}", other.body);
    other.assert_envelope();
    assert_eq!(other.error_codes(), ["idempotency_key_reused"]);

    // Keys belong to an account: another account may use the same key freely.
    let (other_account, other_token) = app.account_with_admin();
    let solo = app.insert_contact(other_account, "Solo", None, None, None);
    let r = app.request_with_headers(
        "POST",
        &merge_path(other_account),
        &[("api_access_token", other_token.as_str()), ("Idempotency-Key", "merge-42")],
        Some(&json!({"base_contact_id": solo, "mergee_contact_id": solo})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_failed_request_does_not_consume_its_key() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let base = app.insert_contact(account, "Base", None, None, None);
    let headers = [("api_access_token", token.as_str()), ("Idempotency-Key", "retry-after-404")];
    let body = json!({"base_contact_id": base, "mergee_contact_id": 999_999});
    let r = app.request_with_headers("POST", &merge_path(account), &headers, Some(&body));
    assert_eq!(r.status, 404);
    assert_eq!(app.count("SELECT count(*) AS n FROM idempotency_keys"), 0, "rolled back with the failed work");
    let r = app.request_with_headers("POST", &merge_path(account), &headers, Some(&body));
    assert_eq!(r.status, 404, "the retry runs again instead of replaying");
}

#[test]
fn invalid_keys_are_400() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let base = app.insert_contact(account, "Base", None, None, None);
    let long = "k".repeat(300);
    for key in ["", "   ", long.as_str()] {
        let r = app.request_with_headers(
            "POST",
            &merge_path(account),
            &[("api_access_token", token.as_str()), ("Idempotency-Key", key)],
            Some(&json!({"base_contact_id": base, "mergee_contact_id": base})),
        );
        assert_eq!(r.status, 400, "{key:?}: {}", r.body);
        assert_eq!(r.error_fields(), ["Idempotency-Key"]);
    }
}

#[test]
fn concurrent_requests_with_one_key_do_the_work_once() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Web");
    for round in 0..3 {
        let base = app.insert_contact(account, "Base", None, None, None);
        let mergee = app.insert_contact(account, "Mergee", None, None, None);
        app.give_rows(account, mergee, inbox, 50, 5, &["x"]);
        let key = format!("concurrent-{round}");
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (app, barrier, token, key) = (Arc::clone(&app), Arc::clone(&barrier), token.clone(), key.clone());
                thread::spawn(move || {
                    barrier.wait();
                    app.request_with_headers(
                        "POST",
                        &merge_path(account),
                        &[("api_access_token", token.as_str()), ("Idempotency-Key", key.as_str())],
                        Some(&json!({"base_contact_id": base, "mergee_contact_id": mergee})),
                    )
                })
            })
            .collect();
        let responses: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let first = responses.iter().find(|r| r.status == 200).expect("one did the work");
        for r in &responses {
            assert!(r.status == 200 || r.status == 409, "{}: {}", r.status, r.body);
            if r.status == 200 {
                assert_eq!(r.text, first.text, "every 200 is the same response");
            }
        }
        let replays = responses.iter().filter(|r| r.header("Idempotent-Replayed") == Some("true")).count();
        assert_eq!(replays, responses.iter().filter(|r| r.status == 200).count() - 1, "exactly one did the work");
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM contact_merges WHERE mergee_contact_id = {mergee}")),
            1
        );
    }
}

#[test]
fn creating_posts_replay_instead_of_creating_twice() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox_body = json!({"name": "Support", "channel": {"type": "api"}});
    let cases = [
        (format!("/api/v1/accounts/{account}/inboxes"), inbox_body, "SELECT count(*) AS n FROM inboxes"),
        (
            format!("/api/v1/accounts/{account}/contacts"),
            json!({"name": "Ada", "email": "ada@example.com"}),
            "SELECT count(*) AS n FROM contacts",
        ),
    ];
    for (path, body, count) in cases {
        let headers = [("api_access_token", token.as_str()), ("Idempotency-Key", "create-once")];
        let first = app.request_with_headers("POST", &path, &headers, Some(&body));
        assert_eq!(first.status, 200, "{path}: {}", first.body);
        let rows = app.count(count);
        let retry = app.request_with_headers("POST", &path, &headers, Some(&body));
        assert_eq!((retry.status, retry.text.clone()), (200, first.text.clone()), "{path}");
        assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
        assert_eq!(app.count(count), rows, "{path}: created once");
        app.execute("DELETE FROM idempotency_keys");
    }
    // Without a key a retry is a new request: the email is now taken.
    let r = app.post(&format!("/api/v1/accounts/{account}/contacts"), &token, &json!({"email": "ada@example.com"}));
    assert_eq!((r.status, r.error_codes()), (422, vec!["taken".to_owned()]));
}
