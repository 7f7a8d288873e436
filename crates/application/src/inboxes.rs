//! Inboxes: list, create and show. Only API channels exist here; the reference's other channel kinds (web
//! widget, email, WhatsApp, …) need integrations this service does not have, so creating one is refused
//! instead of producing an inbox that cannot work.

use domain::{AccountId, InboxId, InboxSummary, Violations};

use crate::admin::MAX_NAME_LEN;
use crate::ports::{in_transaction, on_connection, Database, StoreError};
use crate::Session;

/// The stored channel type of API inboxes (the reference's class name).
pub const API_CHANNEL_TYPE: &str = "Channel::Api";

/// Why an inbox operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxesError {
    #[error("inbox not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// The `Idempotency-Key` was used before for another request.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::idempotency::KeyReused> for InboxesError {
    fn from(_: crate::idempotency::KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for InboxesError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => Self::Invalid(Violations::one(field, "taken", "has already been taken")),
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// The account's inboxes, oldest first.
///
/// # Errors
/// Storage failures.
pub fn list_inboxes(db: &dyn Database, account: AccountId) -> Result<Vec<InboxSummary>, InboxesError> {
    Ok(on_connection(db, |s| s.list_inboxes(account))?)
}

/// One inbox.
///
/// # Errors
/// `NotFound` when the inbox is not in the account.
pub fn show_inbox(db: &dyn Database, account: AccountId, id: InboxId) -> Result<InboxSummary, InboxesError> {
    on_connection(db, |s| s.find_inbox(account, id))?.ok_or(InboxesError::NotFound)
}

/// Creates an inbox of the channel kind `channel_type` (as the client names it: `api`).
///
/// # Errors
/// `Invalid` for a blank or too long name (`name`) or a channel kind other than `api` (`channel.type`).
pub fn create_inbox(
    db: &dyn Database,
    account: AccountId,
    name: &str,
    channel_type: &str,
) -> Result<InboxSummary, InboxesError> {
    in_transaction(db, |tx| create_inbox_in(tx, account, name, channel_type))
}

/// [`create_inbox`] inside the caller's transaction (committed with an idempotency key).
///
/// # Errors
/// As [`create_inbox`].
pub fn create_inbox_in(
    tx: &mut dyn Session,
    account: AccountId,
    name: &str,
    channel_type: &str,
) -> Result<InboxSummary, InboxesError> {
    let mut v = Violations::default();
    let name = name.trim();
    if name.is_empty() {
        v.push("name", "blank", "can't be blank");
    } else if name.chars().count() > MAX_NAME_LEN {
        v.push("name", "too_long", format!("must be at most {MAX_NAME_LEN} characters"));
    }
    if channel_type != "api" {
        v.push("channel.type", "unsupported_channel", "only API channels (\"api\") can be created here");
    }
    v.into_result().map_err(InboxesError::Invalid)?;
    let inbox = tx.insert_inbox(account, name, API_CHANNEL_TYPE)?;
    Ok(inbox)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDb;

    const ACCOUNT: AccountId = AccountId::new(1);

    #[test]
    fn only_api_inboxes_are_created_and_inboxes_stay_in_their_account() {
        let db = MemoryDb::default();
        let inbox = create_inbox(&db, ACCOUNT, " Website ", "api").unwrap();
        assert_eq!((inbox.name.as_str(), inbox.channel_type.as_str()), ("Website", API_CHANNEL_TYPE));
        let Err(InboxesError::Invalid(v)) = create_inbox(&db, ACCOUNT, "", "web_widget") else {
            panic!("expected Invalid")
        };
        let fields: Vec<&str> = v.as_slice().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "channel.type"]);
        assert_eq!(list_inboxes(&db, ACCOUNT).unwrap(), std::slice::from_ref(&inbox));
        assert_eq!(show_inbox(&db, AccountId::new(2), inbox.id), Err(InboxesError::NotFound));
        assert_eq!(show_inbox(&db, ACCOUNT, inbox.id), Ok(inbox));
    }

    #[test]
    fn inbox_names_are_at_most_255_characters() {
        let db = MemoryDb::default();
        let at_limit = "ü".repeat(MAX_NAME_LEN);
        assert_eq!(create_inbox(&db, ACCOUNT, &at_limit, "api").unwrap().name, at_limit);
        let before = db.snapshot();
        assert_eq!(
            create_inbox(&db, ACCOUNT, &"n".repeat(MAX_NAME_LEN + 1), "api"),
            Err(InboxesError::Invalid(Violations::one("name", "too_long", "must be at most 255 characters")))
        );
        assert_eq!(db.snapshot(), before);
    }
}
