//! Route registration: every handler of the API, one module per resource (and `counted`, the frame of the
//! handlers a business counter counts).

pub mod contact_inboxes;
pub mod contacts;
pub mod conversations;
pub mod counted;
pub mod duplicates;
pub mod health;
pub mod identities;
pub mod inboxes;
pub mod labels;
pub mod merge;
pub mod merge_history;
pub mod merge_many;
pub mod notes;
pub mod platform;
pub mod undo;
pub mod webhooks;

use actix_web::web;

/// Registers every API route.
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(merge::contact_merge)
        .service(merge_history::contact_merge_preview)
        .service(merge_many::contact_merge_many)
        .service(merge_many::contact_merge_many_preview)
        .service(merge_history::contact_merge_list)
        .service(merge_history::contact_merge_details)
        .service(undo::contact_merge_undo)
        .service(undo::contact_merge_undo_preview)
        .service(webhooks::webhook_list)
        .service(webhooks::webhook_create)
        .service(webhooks::webhook_delete)
        // `/contacts/search` before `/contacts/{id}`, which would otherwise take "search" for an id
        .service(duplicates::contact_duplicate_pairs)
        .service(duplicates::contact_duplicate_dismiss)
        .service(contacts::contact_search)
        .service(identities::contact_lookup)
        .service(contacts::contact_list)
        .service(contacts::contact_create)
        .service(contacts::contact_details)
        .service(contacts::contact_update)
        .service(contacts::contact_patch)
        .service(contacts::contact_delete)
        .service(duplicates::contact_duplicate_list)
        .service(conversations::contact_conversation_list)
        .service(labels::contact_labels_list)
        .service(labels::contact_labels_set)
        .service(identities::identity_list)
        .service(identities::identity_create)
        .service(identities::identity_delete)
        .service(notes::note_list)
        .service(notes::note_create)
        .service(notes::note_details)
        .service(notes::note_update)
        .service(notes::note_delete)
        .service(contact_inboxes::contact_inbox_create)
        .service(inboxes::inbox_list)
        .service(inboxes::inbox_create)
        .service(inboxes::inbox_details)
        .service(conversations::conversation_create)
        .service(conversations::conversation_details)
        .service(conversations::message_create)
        .service(conversations::message_list)
        .service(platform::platform_account_create)
        .service(platform::platform_user_create)
        .service(platform::platform_account_user_create);
}
