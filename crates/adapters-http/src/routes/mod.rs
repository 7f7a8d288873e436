//! Route registration: every handler of the API, one module per resource.

pub mod health;
pub mod merge;

use actix_web::web;

/// Registers every API route.
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(health::health).service(health::ready).service(merge::contact_merge);
}
