//! Where a webhook may POST. A webhook's URL is chosen by an account administrator but fetched from inside the
//! deployment, so it is held to two rules:
//!
//! - the URL: `http` or `https`, a host, no user name or password ([`WebhookTarget::parse`]);
//! - the address: public only ([`domain::network`]), unless the deployment allows private addresses for
//!   development. Checked when the webhook is registered (early feedback) **and** at every delivery, after
//!   resolution, against every address the name resolved to: the delivery then connects to exactly those
//!   checked addresses ([`TargetPolicy::delivery_addresses`]), so a name that answers a public address at
//!   registration and a private one later (DNS rebinding) is still refused.
//!
//! Resolving a name is I/O: it goes through the [`HostResolver`] port, which the server implements.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use domain::network::is_public;
use domain::Violations;

/// The longest accepted webhook URL.
pub const MAX_URL_LEN: usize = 2048;

/// The error code of a URL whose address is not public.
pub const FORBIDDEN_ADDRESS: &str = "forbidden_address";

/// Resolves host names to addresses (the port; the server implements it with the system's resolver).
pub trait HostResolver: Send + Sync {
    /// Every address `host` (a name, never an IP literal) resolves to.
    ///
    /// # Errors
    /// [`Unresolved`] when the name does not resolve, or not in time.
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, Unresolved>;
}

/// A host name that did not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the host name could not be resolved")]
pub struct Unresolved;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    Ip(IpAddr),
}

/// A webhook URL that passed the URL rules (not yet the address rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    url: String,
    host: Host,
    port: u16,
}

impl WebhookTarget {
    /// Parses the URL the way the delivery's HTTP client will (WHATWG URL rules, so `http://2130706433/` is
    /// `127.0.0.1` here as there).
    ///
    /// # Errors
    /// Violations on `url`: `invalid_format` for anything but an `http`/`https` URL with a host of at most
    /// [`MAX_URL_LEN`] characters, or one that carries a user name or password.
    pub fn parse(url: &str) -> Result<Self, Violations> {
        let url = url.trim();
        let invalid =
            || Violations::one("url", "invalid_format", "must be an http or https URL of at most 2048 characters");
        if url.len() > MAX_URL_LEN || url.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let parsed = url::Url::parse(url).map_err(|_| invalid())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Violations::one("url", "invalid_format", "must not carry a user name or password"));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => Host::Name(name.to_owned()),
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            _ => return Err(invalid()),
        };
        let port = parsed.port_or_known_default().ok_or_else(invalid)?;
        Ok(Self { url: url.to_owned(), host, port })
    }

    /// The URL as given (trimmed).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Why a delivery may not go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryRefused {
    /// The target is, or resolves to, an address that is not public.
    #[error("the webhook's address is not allowed")]
    ForbiddenAddress,
    /// The name did not resolve (perhaps for now).
    #[error("the webhook's host name could not be resolved")]
    Unresolved,
}

/// The address rule, with the resolver it needs.
#[derive(Clone)]
pub struct TargetPolicy {
    resolver: Arc<dyn HostResolver>,
    allow_private: bool,
}

impl std::fmt::Debug for TargetPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetPolicy").field("allow_private", &self.allow_private).finish_non_exhaustive()
    }
}

impl TargetPolicy {
    /// `allow_private` lifts the address rule (local development and tests); the URL rules still hold.
    pub fn new(resolver: Arc<dyn HostResolver>, allow_private: bool) -> Self {
        Self { resolver, allow_private }
    }

    /// Whether private addresses are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// The registration check. An IP literal must be public; a name must resolve to public addresses only. A
    /// name that does not resolve (yet) is accepted: every delivery checks again, and nothing is sent to an
    /// address that was not checked.
    ///
    /// # Errors
    /// A `forbidden_address` violation on `url`. Its message never says what a name resolved to.
    pub fn check_registration(&self, target: &WebhookTarget) -> Result<(), Violations> {
        if self.allow_private {
            return Ok(());
        }
        let addresses = match &target.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => self.resolver.resolve(name).unwrap_or_default(),
        };
        if addresses.iter().all(|ip| is_public(*ip)) {
            Ok(())
        } else {
            Err(Violations::one(
                "url",
                FORBIDDEN_ADDRESS,
                "must point to a public address; loopback, private, link-local and other reserved addresses are refused",
            ))
        }
    }

    /// The delivery check: resolves the name once and returns the addresses to connect to, every one of them
    /// checked. The caller connects to these and never resolves the name again.
    ///
    /// # Errors
    /// `ForbiddenAddress` when any address is not public (and private addresses are not allowed);
    /// `Unresolved` when the name resolves to nothing.
    pub fn delivery_addresses(&self, target: &WebhookTarget) -> Result<Vec<SocketAddr>, DeliveryRefused> {
        let addresses = match &target.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => self.resolver.resolve(name).map_err(|Unresolved| DeliveryRefused::Unresolved)?,
        };
        if addresses.is_empty() {
            return Err(DeliveryRefused::Unresolved);
        }
        // All or nothing: a name with one private address among public ones is refused outright.
        if !self.allow_private && !addresses.iter().all(|ip| is_public(*ip)) {
            return Err(DeliveryRefused::ForbiddenAddress);
        }
        Ok(addresses.into_iter().map(|ip| SocketAddr::new(ip, target.port)).collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// A resolver answering from a table that tests can change between two calls (DNS rebinding).
    #[derive(Default)]
    pub struct TableResolver {
        pub answers: Mutex<HashMap<String, Vec<IpAddr>>>,
    }

    impl TableResolver {
        pub fn with(entries: &[(&str, &[&str])]) -> Arc<Self> {
            let resolver = Self::default();
            for (name, ips) in entries {
                resolver.set(name, ips);
            }
            Arc::new(resolver)
        }

        pub fn set(&self, name: &str, ips: &[&str]) {
            let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
            self.answers.lock().unwrap().insert(name.to_owned(), ips);
        }
    }

    impl HostResolver for TableResolver {
        fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, Unresolved> {
            self.answers.lock().unwrap().get(host).cloned().ok_or(Unresolved)
        }
    }

    fn strict(resolver: Arc<TableResolver>) -> TargetPolicy {
        TargetPolicy::new(resolver, false)
    }

    fn codes(result: Result<WebhookTarget, Violations>) -> Vec<String> {
        result.err().map(|v| v.as_slice().iter().map(|f| f.code.clone()).collect()).unwrap_or_default()
    }

    #[test]
    fn only_http_urls_without_credentials_are_targets() {
        for ok in ["http://example.com", "https://example.com:8443/a?b#c", "http://[2606:4700::1]/", "http://1.1.1.1"] {
            assert!(WebhookTarget::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com",
            "javascript:alert(1)",
            "example.com",
            "http://",
            "http:// example.com",
            "https://exa mple.com/",
        ] {
            assert_eq!(codes(WebhookTarget::parse(bad)), ["invalid_format"], "{bad}");
        }
        for with_userinfo in ["http://user@example.com/", "https://user:pw@example.com/", "http://:pw@example.com/"] {
            let v = WebhookTarget::parse(with_userinfo).unwrap_err();
            assert_eq!(v.as_slice()[0].message, "must not carry a user name or password", "{with_userinfo}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(codes(WebhookTarget::parse(&long)), ["invalid_format"]);
    }

    #[test]
    fn registration_refuses_every_non_public_literal_and_name() {
        let policy = strict(TableResolver::with(&[
            ("localhost", &["127.0.0.1", "::1"]),
            ("mixed.example", &["93.184.215.14", "10.0.0.1"]),
            ("public.example", &["93.184.215.14", "2606:4700::1"]),
        ]));
        for refused in [
            "http://127.0.0.1:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://[64:ff9b::a00:1]/",
            "http://0.0.0.0/",
            "http://localhost:3000/",
            "http://mixed.example/",
        ] {
            let target = WebhookTarget::parse(refused).unwrap();
            let v = policy.check_registration(&target).unwrap_err();
            assert_eq!((v.as_slice()[0].field.as_str(), v.as_slice()[0].code.as_str()), ("url", FORBIDDEN_ADDRESS));
        }
        for accepted in ["https://public.example/hook", "http://8.8.8.8/", "http://unknown.example/"] {
            let target = WebhookTarget::parse(accepted).unwrap();
            assert_eq!(policy.check_registration(&target), Ok(()), "{accepted}");
        }
        let lenient = TargetPolicy::new(TableResolver::with(&[]), true);
        assert_eq!(lenient.check_registration(&WebhookTarget::parse("http://127.0.0.1:9/").unwrap()), Ok(()));
    }

    #[test]
    fn delivery_connects_only_to_the_checked_addresses_of_this_resolution() {
        let resolver = TableResolver::with(&[("rebind.example", &["93.184.215.14"])]);
        let policy = strict(Arc::clone(&resolver));
        let target = WebhookTarget::parse("https://rebind.example/hook").unwrap();
        assert_eq!(policy.check_registration(&target), Ok(()));
        assert_eq!(policy.delivery_addresses(&target), Ok(vec!["93.184.215.14:443".parse().unwrap()]));
        resolver.set("rebind.example", &["127.0.0.1"]);
        assert_eq!(policy.delivery_addresses(&target), Err(DeliveryRefused::ForbiddenAddress));
        resolver.set("rebind.example", &["93.184.215.14", "::ffff:10.0.0.1"]);
        assert_eq!(policy.delivery_addresses(&target), Err(DeliveryRefused::ForbiddenAddress));
        resolver.set("rebind.example", &[]);
        assert_eq!(policy.delivery_addresses(&target), Err(DeliveryRefused::Unresolved));

        let lenient = TargetPolicy::new(TableResolver::with(&[("localhost", &["127.0.0.1"])]), true);
        let local = WebhookTarget::parse("http://localhost:9000/").unwrap();
        assert_eq!(lenient.delivery_addresses(&local), Ok(vec!["127.0.0.1:9000".parse().unwrap()]));
    }

    #[test]
    fn a_url_may_be_exactly_as_long_as_the_limit_and_holds_no_whitespace_anywhere() {
        let prefix = "https://example.com/";
        let longest = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
        assert_eq!(WebhookTarget::parse(&longest).map(|t| t.url().len()), Ok(MAX_URL_LEN));
        assert_eq!(codes(WebhookTarget::parse(&format!("{longest}a"))), ["invalid_format"]);
        // The URL parser would quietly percent-encode a space in the path and drop a tab or a line break, so
        // the URL stored would not be the URL given: refused instead.
        for with_whitespace in ["https://example.com/a b", "https://exam\tple.com/", "https://example.com/\nx"] {
            assert_eq!(codes(WebhookTarget::parse(with_whitespace)), ["invalid_format"], "{with_whitespace:?}");
        }
        assert_eq!(
            WebhookTarget::parse(" https://example.com/a \n").map(|t| t.url().to_owned()),
            Ok("https://example.com/a".into())
        );
    }

    #[test]
    fn the_policy_says_whether_private_addresses_are_allowed_and_shows_no_resolver() {
        let strict = strict(TableResolver::with(&[]));
        let lenient = TargetPolicy::new(TableResolver::with(&[]), true);
        assert!(!strict.allows_private());
        assert!(lenient.allows_private());
        assert_eq!(format!("{lenient:?}"), "TargetPolicy { allow_private: true, .. }");
        assert_eq!(format!("{strict:?}"), "TargetPolicy { allow_private: false, .. }");
    }
}
