//! `GET /contacts/search`: case-insensitive substring match on name, email, phone number and identifier, with
//! LIKE's wildcards matched literally, paged and sorted like the list.

use coalesce_tests::{json, TestApp};
use domain::AccountId;
use serde_json::Value;

fn search(app: &TestApp, account: AccountId, token: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/accounts/{account}/contacts/search?{query}"), token);
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.body
}

fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        body["payload"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

#[test]
fn finds_by_each_field_ignoring_case() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    app.api_contact(account, &token, &json!({"name": "Ada Lovelace", "email": "ada@analytical.org"}));
    app.api_contact(
        account,
        &token,
        &json!({"name": "Grace Hopper", "phone_number": "+15551234567", "identifier": "COBOL-1959"}),
    );
    app.api_contact(
        account,
        &token,
        &json!({"name": "Alan Turing", "email": "alan@bletchley.uk", "identifier": "enigma"}),
    );
    let other = app.create_account("Other");
    app.insert_contact(other, "Ada Elsewhere", Some("ada@elsewhere.org"), None, None);

    for (q, expected) in [
        ("q=lovelace", vec!["Ada Lovelace"]),
        ("q=LOVELACE", vec!["Ada Lovelace"]),
        ("q=ada", vec!["Ada Lovelace"]),
        ("q=ANALYTICAL.ORG", vec!["Ada Lovelace"]),
        ("q=%2B1555123", vec!["Grace Hopper"]),
        ("q=5551234", vec!["Grace Hopper"]),
        ("q=cobol", vec!["Grace Hopper"]),
        ("q=Enig", vec!["Alan Turing"]),
        ("q=al", vec!["Ada Lovelace", "Alan Turing"]),
        ("q=%20turing%20", vec!["Alan Turing"]),
        ("q=nobody", vec![]),
    ] {
        let body = search(&app, account, &token, q);
        assert_eq!(names(&body), expected, "{q}");
        assert_eq!(body["meta"]["count"], json!(expected.len()), "{q}");
    }
    // results are contacts with their contact inboxes, like the list
    let body = search(&app, account, &token, "q=ada");
    assert_eq!(body["payload"][0]["email"], "ada@analytical.org");
    assert!(body["payload"][0]["contact_inboxes"].is_array());
}

#[test]
fn wildcards_and_backslashes_match_themselves() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    for name in ["100% cotton", "1000 cotton", "snake_case", "snakeXcase", r"back\slash", "backslash"] {
        app.api_contact(account, &token, &json!({"name": name}));
    }
    for (q, expected) in [
        ("q=0%25", vec!["100% cotton"]),
        ("q=%25", vec!["100% cotton"]),
        ("q=e_c", vec!["snake_case"]),
        ("q=_", vec!["snake_case"]),
        ("q=k%5Cs", vec![r"back\slash"]),
        ("q=%5C", vec![r"back\slash"]),
    ] {
        assert_eq!(names(&search(&app, account, &token, q)), expected, "{q}");
    }
}

/// The four columns are searched through one index over their text joined by U+001F (store/contacts/pages.rs):
/// a term never matches across two columns, whether it holds that separator or a space, and a term holding the
/// separator still finds a column that holds it.
#[test]
fn a_term_matches_within_one_field_only() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    app.api_contact(
        account,
        &token,
        &json!({"name": "Ada Lovelace", "email": "ada@analytical.org", "phone_number": "+15551234567", "identifier": "crm-7"}),
    );
    app.api_contact(account, &token, &json!({"name": "Unit\u{1f}Separator"}));
    for (q, expected) in [
        ("q=lovelace%1Fada", vec![]),
        ("q=e%1F", vec![]),
        ("q=org%1F%2B1555", vec![]),
        ("q=4567%1Fcrm", vec![]),
        ("q=lovelace%20ada", vec![]),
        ("q=t%1Fs", vec!["Unit\u{1f}Separator"]),
        ("q=%1F", vec!["Unit\u{1f}Separator"]),
        ("q=crm-7", vec!["Ada Lovelace"]),
    ] {
        let body = search(&app, account, &token, q);
        assert_eq!(names(&body), expected, "{q}");
        assert_eq!(body["meta"]["count"], json!(expected.len()), "{q}");
    }
}

#[test]
fn pages_and_sorts_like_the_list() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    for i in 0..17 {
        app.insert_contact(account, &format!("Match {i:02}"), None, None, None);
    }
    app.insert_contact(account, "Different", None, None, None);
    let first = search(&app, account, &token, "q=match&sort=name");
    assert_eq!(first["meta"], json!({"count": 17, "current_page": 1}));
    assert_eq!(first["payload"].as_array().unwrap().len(), 15);
    assert_eq!(first["payload"][0]["name"], "Match 00");
    let second = search(&app, account, &token, "q=match&sort=name&page=2");
    assert_eq!(second["meta"], json!({"count": 17, "current_page": 2}));
    let rest: Vec<&str> = second["payload"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(rest, ["Match 15", "Match 16"]);
    let desc = search(&app, account, &token, "q=match&sort=-name");
    assert_eq!(desc["payload"][0]["name"], "Match 16");
}

#[test]
fn a_missing_or_blank_term_and_bad_paging_are_refused() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    for (query, fields, codes) in [
        ("", vec!["q"], vec!["required"]),
        ("q=", vec!["q"], vec!["blank"]),
        ("q=%20%20", vec!["q"], vec!["blank"]),
        ("q=a&page=0", vec!["page"], vec!["invalid_value"]),
        ("q=a&sort=age", vec!["sort"], vec!["invalid_value"]),
    ] {
        let r = app.get(&format!("/api/v1/accounts/{account}/contacts/search?{query}"), &token);
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        r.assert_envelope();
        assert_eq!(
            (r.error_fields(), r.error_codes()),
            (fields.iter().map(|s| (*s).to_owned()).collect(), codes.iter().map(|s| (*s).to_owned()).collect()),
            "{query}"
        );
    }
    let r = app.request("GET", &format!("/api/v1/accounts/{account}/contacts/search?q=a"), None, None);
    assert_eq!(r.status, 401);
    // the path also matches /contacts/{id}: the Allow header still lists each method once
    let r = app.request("POST", &format!("/api/v1/accounts/{account}/contacts/search"), Some(&token), Some(&json!({})));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, PUT, PATCH, DELETE")), "{}", r.body);
}
