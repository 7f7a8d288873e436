//! [`NoteStore`] on PostgreSQL: notes about contacts, each with its author (use case: `application::notes`).

use application::ports::{Note, NoteStore, User};
use application::StoreError;
use chrono::Utc;
use diesel::prelude::*;
use domain::{AccountId, ContactId, NoteId, UserId};

use super::PgSession;
use crate::errors::StoreResult;
use crate::models::{NoteRow, UserRow};
use crate::schema::{notes, users};

impl NoteStore for PgSession {
    fn notes(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Note>, StoreError> {
        let rows: Vec<(NoteRow, Option<UserRow>)> = notes::table
            .left_join(users::table)
            .filter(notes::account_id.eq(account.get()))
            .filter(notes::contact_id.eq(contact.get()))
            .order((notes::created_at.desc(), notes::id.desc()))
            .select((NoteRow::as_select(), Option::<UserRow>::as_select()))
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(|(note, user)| note.into_note(user.map(User::from))).collect())
    }

    fn find_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<Option<Note>, StoreError> {
        let row: Option<(NoteRow, Option<UserRow>)> = notes::table
            .left_join(users::table)
            .filter(notes::account_id.eq(account.get()))
            .filter(notes::contact_id.eq(contact.get()))
            .filter(notes::id.eq(id.get()))
            .select((NoteRow::as_select(), Option::<UserRow>::as_select()))
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(|(note, user)| note.into_note(user.map(User::from))))
    }

    fn insert_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        author: UserId,
        content: &str,
    ) -> Result<Note, StoreError> {
        let (row, user_id): (NoteRow, Option<i64>) = diesel::insert_into(notes::table)
            .values((
                notes::account_id.eq(account.get()),
                notes::contact_id.eq(contact.get()),
                notes::user_id.eq(author.get()),
                notes::content.eq(content),
            ))
            .returning((NoteRow::as_returning(), notes::user_id))
            .get_result(self.conn())
            .store()?;
        self.note_author(row, user_id)
    }

    fn update_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: NoteId,
        content: &str,
    ) -> Result<Option<Note>, StoreError> {
        let row: Option<(NoteRow, Option<i64>)> = diesel::update(
            notes::table
                .filter(notes::account_id.eq(account.get()))
                .filter(notes::contact_id.eq(contact.get()))
                .filter(notes::id.eq(id.get())),
        )
        .set((notes::content.eq(content), notes::updated_at.eq(Utc::now())))
        .returning((NoteRow::as_returning(), notes::user_id))
        .get_result(self.conn())
        .optional()
        .store()?;
        row.map(|(note, user_id)| self.note_author(note, user_id)).transpose()
    }

    fn delete_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<bool, StoreError> {
        let n = diesel::delete(
            notes::table
                .filter(notes::account_id.eq(account.get()))
                .filter(notes::contact_id.eq(contact.get()))
                .filter(notes::id.eq(id.get())),
        )
        .execute(self.conn())
        .store()?;
        Ok(n == 1)
    }
}

impl PgSession {
    fn note_author(&mut self, row: NoteRow, user_id: Option<i64>) -> Result<Note, StoreError> {
        let author = match user_id {
            Some(u) => self.users_by_id(&[u])?.into_iter().next(),
            None => None,
        };
        Ok(row.into_note(author))
    }
}
