//! Notes about a contact: list, write, read, rewrite, delete. A note is always addressed through its contact,
//! so a note id of another contact (or another account) is simply not found.

use domain::{AccountId, ContactId, NoteId, Violations};

use crate::auth::Member;
use crate::ports::{in_transaction, on_connection, Database, Note, StoreError};
use crate::Session;

/// Longest accepted note, in characters.
pub const MAX_NOTE_LEN: usize = 65_535;

/// Why a note operation did not happen. In every case nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotesError {
    /// `field` is the path parameter (`id` for the contact, `note_id`) that names nothing in the account.
    #[error("{entity} not found")]
    NotFound { field: &'static str, entity: &'static str },
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

impl From<crate::idempotency::KeyReused> for NotesError {
    fn from(_: crate::idempotency::KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for NotesError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => Self::Invalid(Violations::one(field, "taken", "has already been taken")),
            // the contact vanished under us, e.g. merged away
            StoreError::MissingReference { .. } => contact_not_found(),
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Other(m) => Self::Internal(m),
        }
    }
}

fn contact_not_found() -> NotesError {
    NotesError::NotFound { field: "id", entity: "contact" }
}

fn note_not_found() -> NotesError {
    NotesError::NotFound { field: "note_id", entity: "note" }
}

/// A note's content, trimmed.
///
/// # Errors
/// `blank` or `too_long`, against the field `content`.
fn check_content(content: &str) -> Result<String, NotesError> {
    let content = content.trim();
    if content.is_empty() {
        Err(NotesError::Invalid(Violations::one("content", "blank", "can't be blank")))
    } else if content.chars().count() > MAX_NOTE_LEN {
        Err(NotesError::Invalid(Violations::one(
            "content",
            "too_long",
            format!("must be at most {MAX_NOTE_LEN} characters"),
        )))
    } else {
        Ok(content.to_owned())
    }
}

/// The contact's notes, newest first.
///
/// # Errors
/// `NotFound` when the contact is not in the account.
pub fn list_notes(db: &dyn Database, account: AccountId, contact: ContactId) -> Result<Vec<Note>, NotesError> {
    on_connection(db, |s| {
        s.find_contact(account, contact)?.ok_or_else(contact_not_found)?;
        Ok(s.notes(account, contact)?)
    })
}

/// Writes a note about the contact, signed by the member.
///
/// # Errors
/// `Invalid` for blank or too long content, `NotFound` when the contact is not in the account.
pub fn create_note(db: &dyn Database, member: Member, contact: ContactId, content: &str) -> Result<Note, NotesError> {
    in_transaction(db, |tx| create_note_in(tx, member, contact, content))
}

/// [`create_note`] inside the caller's transaction (committed with an idempotency key).
///
/// # Errors
/// As [`create_note`].
pub fn create_note_in(
    tx: &mut dyn Session,
    member: Member,
    contact: ContactId,
    content: &str,
) -> Result<Note, NotesError> {
    let content = check_content(content)?;
    let account = member.account_id;
    // locked like every write that hangs a row off a contact, so it serializes with merges and deletions
    tx.lock_contacts(account, &[contact])?.into_iter().next().ok_or_else(contact_not_found)?;
    let note = tx.insert_note(account, contact, member.user_id, &content)?;
    Ok(note)
}

/// One note of the contact.
///
/// # Errors
/// `NotFound` for an unknown contact (`id`) or a note that is not the contact's (`note_id`).
pub fn show_note(db: &dyn Database, account: AccountId, contact: ContactId, id: NoteId) -> Result<Note, NotesError> {
    on_connection(db, |s| {
        s.find_contact(account, contact)?.ok_or_else(contact_not_found)?;
        s.find_note(account, contact, id)?.ok_or_else(note_not_found)
    })
}

/// Rewrites a note of the contact.
///
/// # Errors
/// As [`show_note`], and `Invalid` for blank or too long content.
pub fn update_note(
    db: &dyn Database,
    account: AccountId,
    contact: ContactId,
    id: NoteId,
    content: &str,
) -> Result<Note, NotesError> {
    let content = check_content(content)?;
    in_transaction(db, |tx| {
        tx.find_contact(account, contact)?.ok_or_else(contact_not_found)?;
        let note = tx.update_note(account, contact, id, &content)?.ok_or_else(note_not_found)?;
        Ok(note)
    })
}

/// Deletes a note of the contact.
///
/// # Errors
/// As [`show_note`].
pub fn delete_note(db: &dyn Database, account: AccountId, contact: ContactId, id: NoteId) -> Result<(), NotesError> {
    in_transaction(db, |tx| {
        tx.find_contact(account, contact)?.ok_or_else(contact_not_found)?;
        if !tx.delete_note(account, contact, id)? {
            return Err(note_not_found());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use domain::ContactAttributes;

    use super::*;
    use crate::memory::MemoryDb;
    use crate::ports::{Role, User};

    const ACCOUNT: AccountId = AccountId::new(1);

    #[test]
    fn notes_are_signed_trimmed_and_only_reachable_through_their_contact() {
        let db = MemoryDb::default();
        let author = User { id: domain::UserId::new(7), name: "Agent".into(), email: "a@example.com".into() };
        let (mine, other) = {
            let mut s = db.lock();
            s.users.push(author.clone());
            (s.add_contact(ACCOUNT, ContactAttributes::default()), s.add_contact(ACCOUNT, ContactAttributes::default()))
        };
        let member = Member { user_id: author.id, account_id: ACCOUNT, role: Role::Agent };
        let note = create_note(&db, member, mine, "  call back  ").unwrap();
        assert_eq!((note.content.as_str(), note.author.as_ref()), ("call back", Some(&author)));
        assert_eq!(show_note(&db, ACCOUNT, other, note.id), Err(note_not_found()));
        assert_eq!(delete_note(&db, ACCOUNT, other, note.id), Err(note_not_found()));
        assert_eq!(update_note(&db, ACCOUNT, mine, note.id, "done").unwrap().content, "done");
        assert!(matches!(create_note(&db, member, mine, " "), Err(NotesError::Invalid(_))));
        assert_eq!(create_note(&db, member, ContactId::new(999), "x"), Err(contact_not_found()));
        delete_note(&db, ACCOUNT, mine, note.id).unwrap();
        assert_eq!(list_notes(&db, ACCOUNT, mine).unwrap(), []);
    }

    #[test]
    fn notes_are_listed_newest_first_per_contact() {
        let db = MemoryDb::default();
        let (mine, other) = {
            let mut s = db.lock();
            (s.add_contact(ACCOUNT, ContactAttributes::default()), s.add_contact(ACCOUNT, ContactAttributes::default()))
        };
        let member = Member { user_id: domain::UserId::new(7), account_id: ACCOUNT, role: Role::Agent };
        let first = create_note(&db, member, mine, "first").unwrap();
        let second = create_note(&db, member, mine, "second").unwrap();
        create_note(&db, member, other, "elsewhere").unwrap();
        assert_eq!(list_notes(&db, ACCOUNT, mine).unwrap(), [second, first.clone()]);
        assert_eq!(show_note(&db, ACCOUNT, mine, first.id), Ok(first));
        assert_eq!(list_notes(&db, ACCOUNT, ContactId::new(999)), Err(contact_not_found()));
        assert_eq!(list_notes(&db, AccountId::new(2), mine), Err(contact_not_found()));
    }

    #[test]
    fn note_content_is_required_and_at_most_65535_characters() {
        let db = MemoryDb::default();
        let contact = db.lock().add_contact(ACCOUNT, ContactAttributes::default());
        let member = Member { user_id: domain::UserId::new(7), account_id: ACCOUNT, role: Role::Agent };
        let at_limit = "ö".repeat(MAX_NOTE_LEN);
        let note = create_note(&db, member, contact, &format!(" {at_limit} ")).unwrap();
        assert_eq!(note.content, at_limit);
        let before = db.snapshot();
        let too_long = NotesError::Invalid(Violations::one("content", "too_long", "must be at most 65535 characters"));
        let over = "x".repeat(MAX_NOTE_LEN + 1);
        assert_eq!(create_note(&db, member, contact, &over), Err(too_long.clone()));
        assert_eq!(update_note(&db, ACCOUNT, contact, note.id, &over), Err(too_long));
        assert_eq!(
            update_note(&db, ACCOUNT, contact, note.id, "\n"),
            Err(NotesError::Invalid(Violations::one("content", "blank", "can't be blank")))
        );
        assert_eq!(db.snapshot(), before);
    }
}
