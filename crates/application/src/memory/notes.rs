//! [`NoteStore`] in memory: notes about contacts, newest first.

use chrono::Utc;
use domain::{AccountId, ContactId, NoteId, UserId};

use super::MemorySession;
use crate::ports::{Note, NoteStore, StoreError};

impl NoteStore for MemorySession {
    fn notes(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Note>, StoreError> {
        let mut found: Vec<Note> =
            self.work.notes.iter().filter(|n| n.account_id == account && n.contact_id == contact).cloned().collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    fn find_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<Option<Note>, StoreError> {
        Ok(self.work.notes.iter().find(|n| n.account_id == account && n.contact_id == contact && n.id == id).cloned())
    }

    fn insert_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        author: UserId,
        content: &str,
    ) -> Result<Note, StoreError> {
        if !self.work.has_contact(account, contact) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        let now = Utc::now();
        let note = Note {
            id: NoteId::new(self.work.id()),
            account_id: account,
            contact_id: contact,
            author: self.work.users.iter().find(|u| u.id == author).cloned(),
            content: content.to_owned(),
            created_at: now,
            updated_at: now,
        };
        self.work.notes.push(note.clone());
        Ok(note)
    }

    fn update_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: NoteId,
        content: &str,
    ) -> Result<Option<Note>, StoreError> {
        let found =
            self.work.notes.iter_mut().find(|n| n.account_id == account && n.contact_id == contact && n.id == id);
        Ok(found.map(|n| {
            n.content = content.to_owned();
            n.updated_at = Utc::now();
            n.clone()
        }))
    }

    fn delete_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<bool, StoreError> {
        let before = self.work.notes.len();
        self.work.notes.retain(|n| !(n.account_id == account && n.contact_id == contact && n.id == id));
        Ok(self.work.notes.len() < before)
    }
}
