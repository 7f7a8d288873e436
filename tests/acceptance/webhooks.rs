//! Where a webhook may point, over real HTTP against the real server with production's rule (private addresses
//! not allowed): every non-public range is refused at registration with 422 `forbidden_address` on `url`, in
//! every spelling (IPv4 shorthand, IPv6, IPv4 inside IPv6, a name resolving to loopback), and nothing is stored.

use coalesce_tests::{json, TestApp};

#[test]
fn webhooks_to_non_public_addresses_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let path = format!("/api/v1/accounts/{account}/webhooks");
    let refused = [
        // IPv4, each range at or near its edges
        "http://0.0.0.0/",
        "http://0.1.2.3/",
        "http://10.0.0.1/",
        "http://10.255.255.254/",
        "http://100.64.0.1/",
        "http://100.127.255.254/",
        "http://127.0.0.1:3000/hook",
        "http://127.255.255.254/",
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.0.1/",
        "http://172.16.0.1/",
        "http://172.31.255.254/",
        "http://192.0.0.1/",
        "http://192.0.2.1/",
        "http://192.168.0.1/",
        "http://192.168.255.254/",
        "http://198.18.0.1/",
        "http://198.19.255.254/",
        "http://198.51.100.1/",
        "http://203.0.113.1/",
        "http://224.0.0.1/",
        "http://239.255.255.255/",
        "http://240.0.0.1/",
        "https://255.255.255.255/",
        // other spellings of 127.0.0.1, as HTTP clients read them
        "http://2130706433/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://127.1/",
        // IPv6
        "http://[::]/",
        "http://[::1]:8080/",
        "http://[fc00::1]/",
        "http://[fdff:ffff::1]/",
        "http://[fe80::1]/",
        "http://[ff02::1]/",
        "http://[2001:db8::1]/",
        // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a00:1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::10.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:c0a8:101::1]/",
        // a name that resolves to loopback
        "http://localhost:3000/hook",
        "https://LocalHost/hook",
    ];
    for url in refused {
        let r = app.post(&path, &token, &json!({"url": url, "subscriptions": ["contact_merged"]}));
        assert_eq!(r.status, 422, "{url}: {}", r.body);
        r.assert_envelope();
        assert_eq!(
            (r.error_fields(), r.error_codes()),
            (vec!["url".to_owned()], vec!["forbidden_address".to_owned()]),
            "{url}"
        );
        assert!(!r.text.contains("127.0.0.1") || url.contains("127.0.0.1"), "the message names no resolved address");
    }
    for (url, message) in [
        ("http://user:secret@example.com/hook", "must not carry a user name or password"),
        ("https://admin@example.com/", "must not carry a user name or password"),
        ("ftp://example.com/hook", "must be an http or https URL of at most 2048 characters"),
        ("file:///etc/passwd", "must be an http or https URL of at most 2048 characters"),
        ("gopher://127.0.0.1:6379/_", "must be an http or https URL of at most 2048 characters"),
        ("ws://example.com/", "must be an http or https URL of at most 2048 characters"),
    ] {
        let r = app.post(&path, &token, &json!({"url": url, "subscriptions": ["contact_merged"]}));
        assert_eq!(r.status, 422, "{url}: {}", r.body);
        assert_eq!(
            (r.error_fields(), r.error_codes()),
            (vec!["url".to_owned()], vec!["invalid_format".to_owned()]),
            "{url}"
        );
        assert_eq!(r.body["errors"][0]["message"], message, "{url}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks"), 0, "nothing stored");

    // Public addresses are fine; so is a name that does not resolve yet (every delivery checks again).
    for url in ["https://93.184.215.14/hook", "https://[2606:4700:4700::1111]/hook", "https://hooks.example.invalid/in"]
    {
        let r = app.post(&path, &token, &json!({"url": url, "subscriptions": ["contact_merged"]}));
        assert_eq!(r.status, 200, "{url}: {}", r.body);
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks"), 3);
}
