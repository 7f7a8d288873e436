//! Diesel and pool errors mapped to the ports' [`StoreError`]. Unique and foreign-key violations are told
//! apart by constraint name, which is why the migrations name every constraint.

use application::StoreError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// The input field a unique constraint guards.
fn unique_field(constraint: &str) -> &'static str {
    match constraint {
        "contacts_email_key" | "users_email_key" | "contact_identities_email_key" => "email",
        "contacts_identifier_key" | "contact_identities_identifier_key" => "identifier",
        "contacts_phone_number_key" | "contact_identities_phone_number_key" => "phone_number",
        "account_users_account_user_key" => "user_id",
        "contact_inboxes_source_id_key" => "source_id",
        "contact_labels_contact_label_key" => "labels",
        _ => "id",
    }
}

/// The entity a foreign key points at, read from the constraint's name (`<table>_<what>_fkey`).
fn referenced_entity(constraint: &str) -> &'static str {
    let suffixes = [
        ("_account_id_fkey", "account"),
        ("_user_id_fkey", "user"),
        ("_platform_app_id_fkey", "platform_app"),
        ("_contact_inbox_fkey", "contact_inbox"),
        ("_contact_fkey", "contact"),
        ("_inbox_fkey", "inbox"),
        ("_conversation_fkey", "conversation"),
    ];
    suffixes.iter().find(|(suffix, _)| constraint.ends_with(suffix)).map_or("row", |(_, entity)| entity)
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
                // a read-only server is a primary demoted (or being demoted) by a failover: unavailable for now
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ReadOnlyTransaction => StoreError::Unavailable(info.message().to_owned()),
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
    use super::*;

    #[test]
    fn constraint_names_map_to_entities() {
        assert_eq!(referenced_entity("account_users_account_id_fkey"), "account");
        assert_eq!(referenced_entity("account_users_user_id_fkey"), "user");
        assert_eq!(referenced_entity("messages_sender_contact_fkey"), "contact");
        assert_eq!(referenced_entity("conversations_contact_inbox_fkey"), "contact_inbox");
        assert_eq!(referenced_entity("contact_inboxes_inbox_fkey"), "inbox");
        assert_eq!(referenced_entity("messages_conversation_fkey"), "conversation");
        assert_eq!(referenced_entity("something_else"), "row");
        assert_eq!(unique_field("contacts_email_key"), "email");
        assert_eq!(unique_field("contacts_phone_number_key"), "phone_number");
        assert_eq!(unique_field("contact_identities_email_key"), "email");
        assert_eq!(unique_field("contact_identities_phone_number_key"), "phone_number");
        assert_eq!(unique_field("contact_identities_identifier_key"), "identifier");
    }
}
