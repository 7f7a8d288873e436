//! Every authentication outcome, on the merge endpoint (any account-scoped endpoint shares the extractor).

use application::ports::Role;
use coalesce_tests::{json, TestApp};

fn merge_path(account: impl std::fmt::Display) -> String {
    format!("/api/v1/accounts/{account}/actions/contact_merge")
}

#[test]
fn each_auth_outcome() {
    let app = TestApp::spawn();
    let account = app.create_account("Acme");
    let agent = app.create_member(account, Role::Agent);
    let admin = app.create_member(account, Role::Administrator);
    let other_account = app.create_account("Other");
    let outsider = app.create_member(other_account, Role::Administrator);
    let loner = app.create_loner();
    let platform = app.create_platform_app();
    let suspended = app.create_account("Suspended");
    let suspended_member = app.create_member(suspended, Role::Administrator);
    app.suspend(suspended);
    let contact = app.insert_contact(account, "Solo", None, None, None);
    let body = json!({"base_contact_id": contact, "mergee_contact_id": contact});

    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        ("no token", None, merge_path(account), 401, "missing_token"),
        ("blank token", Some("   "), merge_path(account), 401, "missing_token"),
        ("unknown token", Some("not-a-token"), merge_path(account), 401, "invalid_token"),
        ("platform app token", Some(&platform), merge_path(account), 401, "platform_token_not_allowed"),
        ("unknown account", Some(&admin), merge_path(999_999), 404, "not_found"),
        ("non-numeric account", Some(&admin), merge_path("abc"), 404, "not_found"),
        ("suspended account", Some(&suspended_member), merge_path(suspended), 401, "account_suspended"),
        ("member of another account", Some(&outsider), merge_path(account), 401, "not_account_member"),
        ("member of no account", Some(&loner), merge_path(account), 401, "not_account_member"),
    ];
    for (what, token, path, status, code) in cases {
        let r = app.request("POST", &path, token, Some(&body));
        assert_eq!(r.status, status, "{what}: {}", r.body);
        r.assert_envelope();
        assert_eq!(r.error_codes(), [code], "{what}");
    }

    // Agents and administrators may both merge (the reference has no role check).
    for token in [&agent, &admin] {
        let r = app.merge(account, token, contact, contact);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["id"], json!(contact));
    }
}

#[test]
fn token_headers_accepted() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let contact = app.insert_contact(account, "Solo", None, None, None);
    let body = json!({"base_contact_id": contact, "mergee_contact_id": contact});
    let bearer = format!("Bearer {token}");
    for headers in [
        vec![("api_access_token", token.as_str())],
        vec![("api-access-token", token.as_str())],
        vec![("API_ACCESS_TOKEN", token.as_str())],
        vec![("Authorization", bearer.as_str())],
    ] {
        let r = app.request_with_headers("POST", &merge_path(account), &headers, Some(&body));
        assert_eq!(r.status, 200, "{headers:?}: {}", r.body);
    }
    // A token in the wrong scheme is no token at all.
    let basic = format!("Basic {token}");
    let r = app.request_with_headers("POST", &merge_path(account), &[("Authorization", &basic)], Some(&body));
    assert_eq!(r.status, 401);
    assert_eq!(r.error_codes(), ["missing_token"]);
}

#[test]
fn tokens_are_stored_as_digests_only() {
    let app = TestApp::spawn();
    let (_, token) = app.account_with_admin();
    let plain = app.count(&format!(
        "SELECT count(*) AS n FROM access_tokens WHERE token_digest = convert_to('{token}', 'UTF8') \
         OR encode(token_digest, 'hex') = '{token}'"
    ));
    assert_eq!(plain, 0, "the token itself is never stored");
    let digest = app.count(&format!(
        "SELECT count(*) AS n FROM access_tokens WHERE token_digest = sha256(convert_to('{token}', 'UTF8'))"
    ));
    assert_eq!(digest, 1, "its SHA-256 digest is");
}
