//! [`InboxStore`] on PostgreSQL: an account's inboxes (use case: `application::inboxes`).

use application::ports::InboxStore;
use application::StoreError;
use diesel::prelude::*;
use domain::{AccountId, InboxId, InboxSummary};

use super::PgSession;
use crate::errors::StoreResult;
use crate::models::InboxRow;
use crate::schema::inboxes;

impl InboxStore for PgSession {
    fn insert_inbox(&mut self, account: AccountId, name: &str, channel_type: &str) -> Result<InboxSummary, StoreError> {
        let row: InboxRow = diesel::insert_into(inboxes::table)
            .values((
                inboxes::account_id.eq(account.get()),
                inboxes::name.eq(name),
                inboxes::channel_type.eq(channel_type),
            ))
            .returning(InboxRow::as_returning())
            .get_result(self.conn())
            .store()?;
        Ok(row.into())
    }

    fn list_inboxes(&mut self, account: AccountId) -> Result<Vec<InboxSummary>, StoreError> {
        let rows: Vec<InboxRow> = inboxes::table
            .filter(inboxes::account_id.eq(account.get()))
            .order(inboxes::id.asc())
            .select(InboxRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(InboxSummary::from).collect())
    }

    fn find_inbox(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxSummary>, StoreError> {
        Ok(self.inbox_row(account, id)?.map(InboxSummary::from))
    }
}
