//! Black-box acceptance tests: the real server over real HTTP against real PostgreSQL. One test binary (linking
//! dominates build time on small machines), one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod concurrency;
mod contact_children;
mod contacts;
mod conversations;
mod inboxes;
mod isolation;
mod platform;
mod search;
mod story;
