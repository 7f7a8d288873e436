//! The PostgreSQL adapter: diesel's generated schema, the embedded migrations, the r2d2 pool and the
//! implementation of every port of `application` on one pooled connection (`store`, with one submodule per port
//! family, named as in `application::ports`).
//!
//! Errors: every diesel or pool error is turned into an `application::StoreError` in [`errors`], the only place
//! that knows constraint names. Nothing above this crate sees diesel.

/// The searchable text of a contact, as the search's trigram index is defined (migrations `2026-12-03-000050` and
/// `2026-12-04-000030`): name, email, phone number, identifier and the identities of the holders it took in
/// merges, lower-cased where they have case, joined by U+001F. A statement must spell it exactly so for PostgreSQL
/// to answer it from that index. A macro, so that statements can be assembled from it at compile time.
macro_rules! joined_text {
    () => {
        "(lower(name) || E'\\x1f' || coalesce(email, '') || E'\\x1f' || coalesce(phone_number, '') || E'\\x1f' \
              || coalesce(lower(identifier), '') || E'\\x1f' || coalesce(merged_identities, ''))"
    };
}

mod batched_reads;
pub mod errors;
mod lost_commits;
pub mod metrics;
pub mod migrations;
mod models;
pub mod pool;
mod prepared;
#[rustfmt::skip]
pub mod schema;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;
mod trigram_shares;

pub use lost_commits::names_several_hosts;
pub use pool::{PgDatabase, PoolConfig};
