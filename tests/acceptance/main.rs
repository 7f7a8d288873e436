//! Black-box acceptance tests: the real server over real HTTP against real PostgreSQL. One test binary (linking
//! dominates build time on small machines), one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod concurrency;
mod connections;
mod contact_children;
mod contacts;
mod contract;
mod conversations;
mod duplicates;
mod errors;
mod idempotency;
mod identities;
mod inboxes;
mod isolation;
mod merge;
mod merge_concurrency;
mod merge_history;
mod merge_many;
mod platform;
mod rate_limit;
mod search;
mod story;
mod undo;
mod webhooks;
