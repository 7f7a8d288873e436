//! The `coalesce` binary end to end, one test binary (linking dominates build time on small machines), one
//! module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod common;
mod ha;
mod invariants;
mod operability;
mod reliability;
mod webhooks;
