//! The notes port ([`NoteStore`]): notes about contacts (used by `crate::notes`).

use chrono::{DateTime, Utc};
use domain::{AccountId, ContactId, NoteId, UserId};

use super::admin::User;
use super::error::StoreError;

/// A note about a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: NoteId,
    pub account_id: AccountId,
    pub contact_id: ContactId,
    /// The user who wrote it; `None` when it was imported or its author is gone.
    pub author: Option<User>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Notes about contacts.
pub trait NoteStore {
    /// The contact's notes, newest first.
    ///
    /// # Errors
    /// Storage failures.
    fn notes(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Note>, StoreError>;

    /// The note, `None` unless it belongs to that contact in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<Option<Note>, StoreError>;

    /// # Errors
    /// `MissingReference` when the contact no longer exists.
    fn insert_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        author: UserId,
        content: &str,
    ) -> Result<Note, StoreError>;

    /// Rewrites the content; `None` unless the note belongs to that contact in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn update_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: NoteId,
        content: &str,
    ) -> Result<Option<Note>, StoreError>;

    /// Deletes the note; `false` unless it belonged to that contact in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn delete_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<bool, StoreError>;
}
