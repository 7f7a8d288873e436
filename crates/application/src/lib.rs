//! Coalesce use cases. Each module is one use case (or a small family of them) with its own error enum; they
//! reach the database only through the port traits in [`ports`], so they run unchanged against PostgreSQL
//! in production and against in-memory ports in unit tests.
//!
//! Which error to use where: a use case returns its own error enum; ports return [`ports::StoreError`], which
//! each use case maps with `From` (a unique violation becomes a `taken` field error, an unreachable database
//! becomes `Unavailable`).

pub mod admin;
pub mod auth;
pub mod contacts;
pub mod conversations;
pub mod duplicates;
pub mod idempotency;
pub mod identities;
pub mod inboxes;
#[cfg(test)]
mod memory;
pub mod merge_contacts;
pub mod merge_history;
pub mod merge_many;
pub mod merge_preview;
pub mod notes;
pub mod ports;
pub mod snapshot;
pub mod undo;
pub mod webhook_targets;
pub mod webhooks;

pub use ports::{Database, Session, StoreError};
