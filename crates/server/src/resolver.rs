//! The system's resolver (`getaddrinfo`, so `/etc/hosts` and the configured DNS servers) behind the
//! application's `HostResolver` port, with a time-out: `getaddrinfo` has none of its own, and a webhook
//! registration or delivery must not wait on a slow name server for long.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use application::webhook_targets::{HostResolver, Unresolved};

/// Resolves names with the system's resolver, giving up after `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct SystemResolver {
    pub timeout: Duration,
}

impl Default for SystemResolver {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(2) }
    }
}

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, Unresolved> {
        let (tx, rx) = mpsc::channel();
        let name = host.to_owned();
        // A lookup that outlives the time-out finishes on its own thread and its answer is dropped.
        std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                let found = (name.as_str(), 0).to_socket_addrs().map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>());
                let _ = tx.send(found);
            })
            .map_err(|_| Unresolved)?;
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(mut ips)) if !ips.is_empty() => {
                ips.sort_unstable();
                ips.dedup();
                Ok(ips)
            }
            _ => Err(Unresolved),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_to_loopback_and_nonsense_does_not_resolve() {
        let resolver = SystemResolver::default();
        let ips = resolver.resolve("localhost").unwrap();
        assert!(!ips.is_empty() && ips.iter().all(IpAddr::is_loopback), "{ips:?}");
        assert_eq!(resolver.resolve("no-such-host.invalid"), Err(Unresolved));
    }
}
