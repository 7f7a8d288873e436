//! Route registration: every handler of the API, one module per resource.

pub mod health;
pub mod merge;
pub mod merge_history;
pub mod webhooks;

use actix_web::web;

/// Registers every API route.
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(merge::contact_merge)
        .service(merge_history::contact_merge_preview)
        .service(merge_history::contact_merge_list)
        .service(merge_history::contact_merge_details)
        .service(webhooks::webhook_list)
        .service(webhooks::webhook_create)
        .service(webhooks::webhook_delete);
}
