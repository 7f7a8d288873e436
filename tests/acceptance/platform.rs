//! The platform API: a platform app provisions accounts, users (with their one-time token) and memberships.

use coalesce_tests::{json, TestApp};

#[test]
fn a_platform_app_provisions_an_account_a_user_and_a_membership() {
    let app = TestApp::spawn();
    let platform = app.create_platform_app();

    let r = app.post("/platform/api/v1/accounts", &platform, &json!({"name": "  Acme Inc "}));
    assert_eq!(r.status, 200, "{}", r.body);
    let account = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body, json!({"id": account, "name": "Acme Inc", "status": "active"}));

    let r = app.post(
        "/platform/api/v1/users",
        &platform,
        &json!({"name": "Daniel", "email": "Daniel@Acme.inc", "password": "ignored"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let user = r.body["id"].as_i64().unwrap();
    assert_eq!(
        (&r.body["name"], &r.body["email"], &r.body["confirmed"]),
        (&json!("Daniel"), &json!("daniel@acme.inc"), &json!(true))
    );
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM access_tokens WHERE user_id = {user} AND token_digest = sha256('{token}'::bytea)")),
        1,
        "only the digest is stored"
    );

    // not a member yet
    let contacts = format!("/api/v1/accounts/{account}/contacts");
    let r = app.get(&contacts, &token);
    assert_eq!((r.status, r.error_codes()), (401, vec!["not_account_member".to_owned()]));

    let r = app.post(
        &format!("/platform/api/v1/accounts/{account}/account_users"),
        &platform,
        &json!({"user_id": user, "role": "administrator"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"account_id": account, "user_id": user, "role": "administrator"}));
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM account_users WHERE account_id = {account} AND user_id = {user} AND role = 'administrator'")), 1);
    let r = app.get(&contacts, &token);
    assert_eq!(r.status, 200, "the new token works: {}", r.body);
}

#[test]
fn platform_errors() {
    let app = TestApp::spawn();
    let platform = app.create_platform_app();
    let (admin_account, user_token) = app.account_with_admin();
    let account =
        app.post("/platform/api/v1/accounts", &platform, &json!({"name": "Own"})).body["id"].as_i64().unwrap();
    let existing =
        app.post("/platform/api/v1/users", &platform, &json!({"name": "Taken", "email": "taken@example.com"}));
    let user = existing.body["id"].as_i64().unwrap();
    let memberships = format!("/platform/api/v1/accounts/{account}/account_users");
    assert_eq!(app.post(&memberships, &platform, &json!({"user_id": user, "role": "agent"})).status, 200);

    // who may call
    let r = app.request("POST", "/platform/api/v1/accounts", None, Some(&json!({"name": "x"})));
    assert_eq!((r.status, r.error_codes()), (401, vec!["missing_token".to_owned()]));
    let r = app.post("/platform/api/v1/accounts", &user_token, &json!({"name": "x"}));
    assert_eq!((r.status, r.error_codes()), (401, vec!["user_token_not_allowed".to_owned()]));
    let r = app.post("/platform/api/v1/accounts", "nonsense", &json!({"name": "x"}));
    assert_eq!((r.status, r.error_codes()), (401, vec!["invalid_token".to_owned()]));
    let r = app.get(&format!("/api/v1/accounts/{admin_account}/contacts"), &platform);
    assert_eq!((r.status, r.error_codes()), (401, vec!["platform_token_not_allowed".to_owned()]));

    let before = app.count("SELECT (SELECT count(*) FROM accounts) * 1000 + (SELECT count(*) FROM users) * 10 + (SELECT count(*) FROM account_users) AS n");
    for (path, body, status, field, code) in [
        ("/platform/api/v1/accounts".to_owned(), json!({}), 400, "name", "required"),
        ("/platform/api/v1/accounts".to_owned(), json!({"name": " "}), 400, "name", "blank"),
        (
            "/platform/api/v1/users".to_owned(),
            json!({"name": "N", "email": "not-an-email"}),
            400,
            "email",
            "invalid_format",
        ),
        ("/platform/api/v1/users".to_owned(), json!({"name": "N"}), 400, "email", "required"),
        (
            "/platform/api/v1/users".to_owned(),
            json!({"name": "N", "email": "TAKEN@example.com"}),
            422,
            "email",
            "taken",
        ),
        (memberships.clone(), json!({"user_id": user, "role": "owner"}), 400, "role", "invalid_value"),
        (memberships.clone(), json!({"role": "agent"}), 400, "user_id", "required"),
        (memberships.clone(), json!({"user_id": 999_999, "role": "agent"}), 401, "user_id", "non_permissible_resource"),
        (memberships.clone(), json!({"user_id": user, "role": "administrator"}), 422, "user_id", "taken"),
        (
            "/platform/api/v1/accounts/999999/account_users".to_owned(),
            json!({"user_id": user, "role": "agent"}),
            401,
            "account_id",
            "non_permissible_resource",
        ),
        (
            "/platform/api/v1/accounts/abc/account_users".to_owned(),
            json!({"user_id": user, "role": "agent"}),
            404,
            "account_id",
            "not_found",
        ),
    ] {
        let r = app.post(&path, &platform, &body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        r.assert_envelope();
        assert_eq!(
            (r.error_fields(), r.error_codes()),
            (vec![field.to_owned()], vec![code.to_owned()]),
            "{path} {body}"
        );
    }
    let after = app.count("SELECT (SELECT count(*) FROM accounts) * 1000 + (SELECT count(*) FROM users) * 10 + (SELECT count(*) FROM account_users) AS n");
    assert_eq!(before, after, "refusals create nothing");
}

#[test]
fn a_platform_app_provisions_only_what_it_created() {
    let app = TestApp::spawn();
    let (alpha, beta) = (app.create_platform_app(), app.create_platform_app());
    let created = |token: &str, path: &str, body: serde_json::Value| {
        let r = app.post(path, token, &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    };
    let alpha_account = created(&alpha, "/platform/api/v1/accounts", json!({"name": "Alpha's"}));
    let alpha_user = created(&alpha, "/platform/api/v1/users", json!({"name": "A", "email": "a@alpha.io"}));
    let beta_account = created(&beta, "/platform/api/v1/accounts", json!({"name": "Beta's"}));
    let beta_user = created(&beta, "/platform/api/v1/users", json!({"name": "B", "email": "b@beta.io"}));
    // An account made with `coalesce admin` belongs to no platform app.
    let (admin_account, _) = app.account_with_admin();
    let members = |account: i64| format!("/platform/api/v1/accounts/{account}/account_users");
    let memberships = "SELECT count(*) AS n FROM account_users";
    let before = app.count(memberships);

    for (token, account, user, field) in [
        (&beta, alpha_account, beta_user, "account_id"),
        (&beta, beta_account, alpha_user, "user_id"),
        (&alpha, alpha_account, beta_user, "user_id"),
        (&alpha, beta_account, alpha_user, "account_id"),
        (&alpha, admin_account.get(), alpha_user, "account_id"),
    ] {
        let r = app.post(&members(account), token, &json!({"user_id": user, "role": "administrator"}));
        assert_eq!(r.status, 401, "{account} {user}: {}", r.body);
        r.assert_envelope();
        assert_eq!(
            (r.error_fields(), r.error_codes()),
            (vec![field.to_owned()], vec!["non_permissible_resource".to_owned()])
        );
    }
    assert_eq!(app.count(memberships), before, "nothing was granted");

    let r = app.post(&members(alpha_account), &alpha, &json!({"user_id": alpha_user, "role": "agent"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(&members(beta_account), &beta, &json!({"user_id": beta_user, "role": "agent"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.count(memberships), before + 2);
}
