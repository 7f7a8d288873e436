//! [`LabelStore`] on PostgreSQL: a contact's labels, replaced as a whole set in one statement (use case:
//! `application::contacts`).

use application::ports::LabelStore;
use application::StoreError;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use domain::{AccountId, ContactId};

use super::PgSession;
use crate::errors::StoreResult;
use crate::schema::contact_labels;

impl LabelStore for PgSession {
    fn labels(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<String>, StoreError> {
        contact_labels::table
            .filter(contact_labels::account_id.eq(account.get()))
            .filter(contact_labels::contact_id.eq(contact.get()))
            .order(contact_labels::label.asc())
            .select(contact_labels::label)
            .load(self.conn())
            .store()
    }

    fn replace_labels(&mut self, account: AccountId, contact: ContactId, labels: &[String]) -> Result<(), StoreError> {
        // One statement: drop the labels not wanted, add the missing ones, leave the rest (and their
        // created_at) alone. The two parts touch disjoint labels, so sharing one snapshot is safe.
        diesel::sql_query(
            "WITH removed AS ( \
                 DELETE FROM contact_labels \
                 WHERE account_id = $1 AND contact_id = $2 AND NOT (label = ANY($3))) \
             INSERT INTO contact_labels (account_id, contact_id, label) \
             SELECT $1, $2, wanted FROM unnest($3::text[]) AS wanted \
             ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(contact.get())
        .bind::<Array<Text>, _>(labels)
        .execute(self.conn())
        .store()?;
        Ok(())
    }
}
