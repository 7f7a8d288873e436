//! The per-address limit for requests without a known token, over real HTTP: a client guessing tokens gets a
//! fresh per-token budget with every guess, so its address is what runs out; other addresses, and tokens
//! already seen to be valid, are not held by it.

use adapters_http::rate_limit::RateLimitConfig;
use adapters_postgres::testing::TestDatabase;
use application::auth::generate_token;
use application::ports::Role;
use coalesce_tests::TestApp;

#[test]
fn random_tokens_from_one_address_are_limited_while_a_valid_token_from_another_is_not() {
    let db = TestDatabase::new();
    let pg = db.pool(4);
    let mut settings = server::ServerSettings { workers: 2, ..server::ServerSettings::default() };
    settings.limits.rate = RateLimitConfig { per_second: 1000.0, burst: 1000.0, unauthenticated_per_minute: 5 };
    let app = TestApp::spawn_with(db, pg, &settings);
    let (account, token) = app.account_with_admin();
    let other = app.create_member(account, Role::Agent);
    let path = format!("/api/v1/accounts/{account}/contact_merges");

    // The administrator's token is used once from 127.0.0.1 (one of the address's 5): from then on it is known.
    assert_eq!(app.get_from("127.0.0.1", &path, Some(&token)).status, 200);
    for _ in 0..4 {
        let r = app.get_from("127.0.0.1", &path, Some(&generate_token()));
        assert_eq!((r.status, r.error_codes()), (401, vec!["invalid_token".to_owned()]), "{}", r.text);
    }
    for _ in 0..3 {
        let r = app.get_from("127.0.0.1", &path, Some(&generate_token()));
        assert_eq!(r.status, 429, "a fresh random token does not get a fresh budget: {}", r.text);
        r.assert_envelope();
        assert_eq!(r.error_codes(), ["rate_limited"]);
        let retry_after: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!((1..=12).contains(&retry_after), "5 a minute: one more within 12 s, not {retry_after}");
    }
    assert_eq!(app.get_from("127.0.0.1", &path, None).status, 429, "no token shares the address's budget");
    assert_eq!(app.get_from("127.0.0.1", "/health", None).status, 200, "health probes are not limited");

    for _ in 0..8 {
        let r = app.get_from("127.0.0.2", &path, Some(&other));
        assert_eq!(r.status, 200, "a valid token from another address is unaffected: {}", r.text);
    }
    for _ in 0..8 {
        let r = app.get_from("127.0.0.1", &path, Some(&token));
        assert_eq!(r.status, 200, "a token already known is not held by its address: {}", r.text);
    }
}
