//! actix's own failures answer in the documented envelope too: malformed JSON, wrong content type, unknown
//! route, wrong method, oversized body; and the probes.

use coalesce_tests::{json, TestApp};

#[test]
fn malformed_and_mistyped_bodies() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let path = format!("/api/v1/accounts/{account}/actions/contact_merge");

    let r = app.request_raw("POST", &path, Some(&token), "application/json", b"{\"base_contact_id\": 1,");
    assert_eq!(r.status, 400, "{}", r.body);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["malformed_json"]);

    let r = app.request_raw("POST", &path, Some(&token), "application/json", b"[1, 2]");
    assert_eq!(r.status, 400, "an array is not an object: {}", r.body);
    assert_eq!(r.error_codes(), ["invalid_body"]);

    let r = app.request_raw("POST", &path, Some(&token), "application/json", b"{\"base_contact_id\": {\"a\": 1}}");
    assert_eq!(r.status, 400);
    assert_eq!(r.error_codes(), ["invalid_type", "required"]);

    let r = app.request_raw("POST", &path, Some(&token), "text/plain", b"base_contact_id=1");
    assert_eq!(r.status, 415);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["unsupported_media_type"]);

    // Authentication comes first: an anonymous caller learns nothing from its body.
    let r = app.request_raw("POST", &path, None, "application/json", b"{not json");
    assert_eq!(r.status, 401);
}

#[test]
fn oversized_body_is_413() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let path = format!("/api/v1/accounts/{account}/actions/contact_merge");
    let big =
        format!("{{\"base_contact_id\": 1, \"mergee_contact_id\": 2, \"pad\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = app.request_raw("POST", &path, Some(&token), "application/json", big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["payload_too_large"]);
}

#[test]
fn unknown_route_and_wrong_method() {
    let app = TestApp::spawn();
    let r = app.request("GET", "/api/v1/nothing/here", None, None);
    assert_eq!(r.status, 404);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["route_not_found"]);

    let r = app.request("GET", "/api/v1/accounts/1/actions/contact_merge", None, None);
    assert_eq!(r.status, 405);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["method_not_allowed"]);
    assert_eq!(r.header("allow"), Some("POST"));
}

#[test]
fn probes() {
    let app = TestApp::spawn();
    let r = app.request("GET", "/health", None, None);
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ok"})));
    let r = app.request("GET", "/ready", None, None);
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ready"})));

    let down = TestApp::spawn_with_database_down();
    let r = down.request("GET", "/health", None, None);
    assert_eq!(r.status, 200, "liveness does not depend on the database");
    let r = down.request("GET", "/ready", None, None);
    assert_eq!(r.status, 503);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["service_unavailable"]);
}

#[test]
fn database_down_is_503_without_internals() {
    let app = TestApp::spawn_with_database_down();
    let r = app.merge(domain::AccountId::new(1), "some-token", 1, 2);
    assert_eq!(r.status, 503, "{}", r.body);
    r.assert_envelope();
    assert_eq!(r.error_codes(), ["service_unavailable"]);
    let text = r.body.to_string();
    assert!(!text.contains("127.0.0.1") && !text.contains("connection"), "no internals leak: {text}");
}

#[test]
fn swagger_ui_and_document_are_served() {
    let app = TestApp::spawn();
    let r = app.request("GET", "/api-docs/openapi.json", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["paths"]["/api/v1/accounts/{account_id}/actions/contact_merge"]["post"]["operationId"],
        json!("contactMerge")
    );
    let r = app.request_with_headers("GET", "/swagger-ui/", &[], None);
    assert_eq!(r.status, 200);
    let r = app.request_with_headers("GET", "/swagger-ui/swagger-ui-bundle.js", &[], None);
    assert_eq!(r.status, 200, "assets come from our own binary");
}

#[test]
fn each_token_is_rate_limited_with_retry_after() {
    use adapters_postgres::testing::TestDatabase;
    let db = TestDatabase::new();
    let pg = db.pool(4);
    let mut settings = server::ServerSettings { workers: 2, ..server::ServerSettings::default() };
    settings.limits.rate =
        adapters_http::rate_limit::RateLimitConfig { per_second: 0.5, burst: 3.0, unauthenticated_per_minute: 0 };
    let app = TestApp::spawn_with(db, pg, &settings);
    let (account, token) = app.account_with_admin();
    let other = app.create_member(account, application::ports::Role::Agent);
    let path = format!("/api/v1/accounts/{account}/contact_merges");
    for _ in 0..3 {
        assert_eq!(app.get(&path, &token).status, 200);
    }
    let limited = app.get(&path, &token);
    assert_eq!(limited.status, 429, "{}", limited.body);
    limited.assert_envelope();
    assert_eq!(limited.error_codes(), ["rate_limited"]);
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(app.get(&path, &other).status, 200, "another token has its own budget");
    let bearer = format!("Bearer {token}");
    let r = app.request_with_headers("GET", &path, &[("Authorization", bearer.as_str())], None);
    assert_eq!(r.status, 429, "the same token in another header shares the budget");
}

#[test]
fn nul_characters_are_refused_not_a_500() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let contacts = format!("/api/v1/accounts/{account}/contacts");
    for (body, field) in [
        (json!({"name": "a\u{0}b"}), "name"),
        (json!({"custom_attributes": {"k\u{0}": 1}}), "custom_attributes"),
        (json!({"additional_attributes": {"k": ["x", {"y": "\u{0}"}]}}), "additional_attributes"),
        (json!({"na\u{0}me": "x"}), "body"),
    ] {
        let r = app.post(&contacts, &token, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!((r.error_fields(), r.error_codes()), (vec![field.to_owned()], vec!["invalid_value".to_owned()]));
    }
    let r = app.get(&format!("{contacts}/search?q=a%00b"), &token);
    assert_eq!((r.status, r.error_codes()), (400, vec!["invalid_value".to_owned()]));
    assert_eq!(app.count("SELECT count(*) AS n FROM contacts"), 0);
}

#[test]
fn deep_or_huge_attribute_objects_are_bounded() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let contacts = format!("/api/v1/accounts/{account}/contacts");
    let mut deep = json!("leaf");
    for _ in 0..12 {
        deep = json!({ "k": deep });
    }
    let r = app.post(&contacts, &token, &json!({"name": "Deep", "custom_attributes": deep}));
    assert_eq!((r.status, r.error_codes()), (422, vec!["too_deep".to_owned()]), "{}", r.body);
    assert_eq!(r.error_fields(), ["custom_attributes"]);

    let huge = json!({"name": "Huge", "additional_attributes": {"blob": "x".repeat(100 * 1024)}});
    let r = app.post(&contacts, &token, &huge);
    assert_eq!((r.status, r.error_codes()), (422, vec!["too_large".to_owned()]), "{}", r.body);

    // Deeper than the JSON parser follows: a clear 400, never a crash.
    let abyss = format!("{{\"name\": \"x\", \"custom_attributes\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    let r = app.request_raw("POST", &contacts, Some(&token), "application/json", abyss.as_bytes());
    assert_eq!((r.status, r.error_codes()), (400, vec!["malformed_json".to_owned()]));
    assert_eq!(app.count("SELECT count(*) AS n FROM contacts"), 0, "nothing stored");
    assert_eq!(app.request("GET", "/health", None, None).status, 200, "the server is fine");
}
