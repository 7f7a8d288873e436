//! Diesel and pool errors mapped to the ports' [`StoreError`]. Unique and foreign-key violations are told
//! apart by constraint name, which is why the migrations name every constraint.

use application::StoreError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// The input field a unique constraint guards.
fn unique_field(constraint: &str) -> &'static str {
    match constraint {
        "contacts_email_key" | "users_email_key" => "email",
        "contacts_identifier_key" => "identifier",
        "contacts_phone_number_key" => "phone_number",
        "account_users_account_user_key" => "user_id",
        "contact_inboxes_source_id_key" => "source_id",
        "contact_labels_contact_label_key" => "labels",
        _ => "id",
    }
}

/// The entity a foreign key points at. Named explicitly where the table's own name would mislead the
/// heuristic below (`contact_inboxes_inbox_fkey` points at an inbox, `account_users_account_id_fkey` at an
/// account).
fn referenced_entity(constraint: &str) -> &'static str {
    match constraint {
        "contact_inboxes_contact_fkey"
        | "conversations_contact_fkey"
        | "messages_sender_contact_fkey"
        | "notes_contact_fkey"
        | "contact_labels_contact_fkey" => return "contact",
        "contact_inboxes_inbox_fkey" | "conversations_inbox_fkey" => return "inbox",
        "conversations_contact_inbox_fkey" => return "contact_inbox",
        "messages_conversation_fkey" => return "conversation",
        "account_users_user_id_fkey" | "messages_sender_user_id_fkey" | "notes_user_id_fkey" => return "user",
        _ if constraint.ends_with("_account_id_fkey") => return "account",
        _ => {}
    }
    if constraint.contains("contact_inbox") {
        "contact_inbox"
    } else if constraint.contains("contact") {
        "contact"
    } else if constraint.contains("inbox") {
        "inbox"
    } else if constraint.contains("conversation") {
        "conversation"
    } else if constraint.contains("user") {
        "user"
    } else if constraint.contains("account") {
        "account"
    } else {
        "row"
    }
}

/// Maps a diesel error.
pub fn from_diesel(e: DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(kind, info) => {
            let constraint = info.constraint_name().unwrap_or_default();
            match kind {
                DatabaseErrorKind::UniqueViolation => StoreError::Taken { field: unique_field(constraint) },
                DatabaseErrorKind::ForeignKeyViolation => {
                    StoreError::MissingReference { entity: referenced_entity(constraint) }
                }
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    StoreError::Unavailable(info.message().to_owned())
                }
                _ => StoreError::Other(format!("{kind:?}: {}", info.message())),
            }
        }
        DieselError::BrokenTransactionManager => StoreError::Unavailable("broken connection".to_owned()),
        other => StoreError::Other(other.to_string()),
    }
}

/// Maps a pool error: no connection could be had in time, so the database counts as unavailable.
pub fn from_pool(e: &diesel::r2d2::PoolError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// `?`-friendly mapping for query results.
pub trait StoreResult<T> {
    /// # Errors
    /// The mapped error.
    fn store(self) -> Result<T, StoreError>;
}

impl<T> StoreResult<T> for Result<T, DieselError> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(from_diesel)
    }
}

#[cfg(test)]
mod tests {
    use super::referenced_entity;

    #[test]
    fn foreign_keys_name_what_they_point_at() {
        for (constraint, entity) in [
            ("contact_inboxes_inbox_fkey", "inbox"),
            ("contact_inboxes_contact_fkey", "contact"),
            ("conversations_contact_inbox_fkey", "contact_inbox"),
            ("account_users_account_id_fkey", "account"),
            ("account_users_user_id_fkey", "user"),
            ("messages_conversation_fkey", "conversation"),
            ("contacts_account_id_fkey", "account"),
        ] {
            assert_eq!(referenced_entity(constraint), entity, "{constraint}");
        }
    }
}
