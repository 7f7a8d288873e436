//! The PostgreSQL adapter: diesel's generated schema, the embedded migrations, the r2d2 pool and the
//! implementation of every port of `application` on one pooled connection (`store`, with one submodule per port
//! family, named as in `application::ports`).
//!
//! Errors: every diesel or pool error is turned into an `application::StoreError` in [`errors`], the only place
//! that knows constraint names. Nothing above this crate sees diesel.

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

pub use lost_commits::names_several_hosts;
pub use pool::{PgDatabase, PoolConfig};
