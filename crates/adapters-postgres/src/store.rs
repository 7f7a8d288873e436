//! [`PgSession`]: every port of `application` implemented on one pooled connection, inside a transaction or in
//! autocommit mode. Dropping a transactional session without committing rolls it back.

use application::ports::{
    Account, AccountStatus, AdminStore, AuthStore, ContactStore, Credentials, MergeEntry, MergeRecord, MergeStore,
    MovedCounts, OutboxStore, Page, Role, StoredMerge, TokenOwner, User,
};
use application::{Session, StoreError};
use chrono::{DateTime, Utc};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Nullable, Text};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, UserId};

use crate::errors::StoreResult;
use crate::models::{contact_inbox, ContactAttributesChangeset, ContactRow, InboxRow};
use crate::pool::PgPooled;
use crate::prepared::Prepared;
use crate::schema::{
    access_tokens, account_users, accounts, contact_inboxes, contact_merges, contacts, conversations, inboxes,
    messages, notes, outbox_events, platform_apps, users,
};

/// One connection, with or without an open transaction.
pub struct PgSession {
    conn: PgPooled,
    open_transaction: bool,
}

impl PgSession {
    /// Opens a transaction on the connection.
    pub fn begin(mut conn: PgPooled) -> Result<Self, StoreError> {
        AnsiTransactionManager::begin_transaction(&mut *conn).store()?;
        Ok(Self { conn, open_transaction: true })
    }

    /// Uses the connection in autocommit mode.
    pub fn autocommit(conn: PgPooled) -> Self {
        Self { conn, open_transaction: false }
    }

    fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Drop for PgSession {
    fn drop(&mut self) {
        if self.open_transaction {
            // A failed rollback marks the connection broken, and the pool then discards it.
            if let Err(e) = AnsiTransactionManager::rollback_transaction(&mut *self.conn) {
                log::warn!("rollback failed: {e}");
            }
        }
    }
}

impl Session for PgSession {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.open_transaction {
            self.open_transaction = false;
            AnsiTransactionManager::commit_transaction(&mut *self.conn).store()?;
        }
        Ok(())
    }
}

#[derive(QueryableByName)]
struct CredentialsRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    user_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    platform_app_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    account_status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<String>,
}

fn account_status(s: &str) -> AccountStatus {
    if s == "active" {
        AccountStatus::Active
    } else {
        AccountStatus::Suspended
    }
}

impl AuthStore for PgSession {
    fn credentials(&mut self, token_digest: &[u8], account: Option<AccountId>) -> Result<Credentials, StoreError> {
        // One round trip: token owner, account status and membership together.
        let row: CredentialsRow = Prepared(
            diesel::sql_query(
                "SELECT t.user_id, t.platform_app_id, a.status AS account_status, au.role \
                 FROM (SELECT 1) AS one \
                 LEFT JOIN access_tokens t ON t.token_digest = $1 \
                 LEFT JOIN accounts a ON a.id = $2 \
                 LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id",
            )
            .bind::<Bytea, _>(token_digest)
            .bind::<Nullable<BigInt>, _>(account.map(AccountId::get)),
        )
        .get_result(self.conn())
        .store()?;
        let owner = match (row.user_id, row.platform_app_id) {
            (Some(u), _) => Some(TokenOwner::User(UserId::new(u))),
            (None, Some(p)) => Some(TokenOwner::PlatformApp(p)),
            (None, None) => None,
        };
        Ok(Credentials {
            owner,
            account: row.account_status.as_deref().map(account_status),
            role: row.role.as_deref().and_then(Role::parse),
        })
    }
}

impl AdminStore for PgSession {
    fn insert_account(&mut self, name: &str) -> Result<Account, StoreError> {
        let (id, status): (i64, String) = diesel::insert_into(accounts::table)
            .values(accounts::name.eq(name))
            .returning((accounts::id, accounts::status))
            .get_result(self.conn())
            .store()?;
        Ok(Account { id: AccountId::new(id), name: name.to_owned(), status: account_status(&status) })
    }

    fn set_account_status(&mut self, id: AccountId, status: AccountStatus) -> Result<bool, StoreError> {
        let n = diesel::update(accounts::table.find(id.get()))
            .set((accounts::status.eq(status.as_str()), accounts::updated_at.eq(Utc::now())))
            .execute(self.conn())
            .store()?;
        Ok(n == 1)
    }

    fn insert_user(&mut self, name: &str, email: &str) -> Result<User, StoreError> {
        let id: i64 = diesel::insert_into(users::table)
            .values((users::name.eq(name), users::email.eq(email)))
            .returning(users::id)
            .get_result(self.conn())
            .store()?;
        Ok(User { id: UserId::new(id), name: name.to_owned(), email: email.to_owned() })
    }

    fn insert_membership(&mut self, account: AccountId, user: UserId, role: Role) -> Result<(), StoreError> {
        diesel::insert_into(account_users::table)
            .values((
                account_users::account_id.eq(account.get()),
                account_users::user_id.eq(user.get()),
                account_users::role.eq(role.as_str()),
            ))
            .execute(self.conn())
            .store()?;
        Ok(())
    }

    fn insert_platform_app(&mut self, name: &str) -> Result<i64, StoreError> {
        diesel::insert_into(platform_apps::table)
            .values(platform_apps::name.eq(name))
            .returning(platform_apps::id)
            .get_result(self.conn())
            .store()
    }

    fn insert_access_token(&mut self, owner: TokenOwner, token_digest: &[u8]) -> Result<(), StoreError> {
        let (user_id, platform_app_id) = match owner {
            TokenOwner::User(u) => (Some(u.get()), None),
            TokenOwner::PlatformApp(p) => (None, Some(p)),
        };
        diesel::insert_into(access_tokens::table)
            .values((
                access_tokens::token_digest.eq(token_digest),
                access_tokens::user_id.eq(user_id),
                access_tokens::platform_app_id.eq(platform_app_id),
            ))
            .execute(self.conn())
            .store()?;
        Ok(())
    }

    fn has_accounts(&mut self) -> Result<bool, StoreError> {
        diesel::select(diesel::dsl::exists(accounts::table.select(accounts::id))).get_result(self.conn()).store()
    }

    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError> {
        diesel::insert_into(inboxes::table)
            .values((inboxes::account_id.eq(account.get()), inboxes::name.eq(name)))
            .returning(inboxes::id)
            .get_result(self.conn())
            .store()
    }
}

impl ContactStore for PgSession {
    fn find_contact(&mut self, account: AccountId, id: ContactId) -> Result<Option<Contact>, StoreError> {
        let row: Option<ContactRow> = contacts::table
            .filter(contacts::account_id.eq(account.get()))
            .filter(contacts::id.eq(id.get()))
            .select(ContactRow::as_select())
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(Contact::from))
    }

    fn lock_contacts(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|c| c.get()).collect();
        // PostgreSQL sorts before it locks (LockRows sits above Sort), so rows are locked in ascending id order:
        // two merges over overlapping pairs wait for each other instead of deadlocking.
        let rows: Vec<ContactRow> = contacts::table
            .filter(contacts::account_id.eq(account.get()))
            .filter(contacts::id.eq_any(ids))
            .order(contacts::id.asc())
            .for_update()
            .select(ContactRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(Contact::from).collect())
    }

    fn contact_inboxes(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<ContactInbox>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|c| c.get()).collect();
        let rows: Vec<(String, InboxRow)> =
            contact_inboxes::table
                .inner_join(inboxes::table.on(
                    inboxes::id.eq(contact_inboxes::inbox_id).and(inboxes::account_id.eq(contact_inboxes::account_id)),
                ))
                .filter(contact_inboxes::account_id.eq(account.get()))
                .filter(contact_inboxes::contact_id.eq_any(ids))
                .order(contact_inboxes::id.asc())
                .select((contact_inboxes::source_id, InboxRow::as_select()))
                .load(self.conn())
                .store()?;
        Ok(rows.into_iter().map(|(source_id, inbox)| contact_inbox(source_id, inbox)).collect())
    }

    fn update_contact_attributes(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
    ) -> Result<Contact, StoreError> {
        let row: ContactRow = Prepared(
            diesel::update(
                contacts::table.filter(contacts::account_id.eq(account.get())).filter(contacts::id.eq(id.get())),
            )
            .set(ContactAttributesChangeset::new(attributes))
            .returning(ContactRow::as_returning()),
        )
        .get_result(self.conn())
        .store()?;
        Ok(row.into())
    }

    fn delete_contact_row(&mut self, account: AccountId, id: ContactId) -> Result<(), StoreError> {
        diesel::delete(
            contacts::table.filter(contacts::account_id.eq(account.get())).filter(contacts::id.eq(id.get())),
        )
        .execute(self.conn())
        .store()?;
        Ok(())
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl MergeStore for PgSession {
    fn move_children(&mut self, account: AccountId, from: ContactId, to: ContactId) -> Result<MovedCounts, StoreError> {
        let (a, from, to) = (account.get(), from.get(), to.get());
        let conn = &mut *self.conn;
        let conversations = Prepared(
            diesel::update(conversations::table)
                .filter(conversations::account_id.eq(a).and(conversations::contact_id.eq(from)))
                .set(conversations::contact_id.eq(to)),
        )
        .execute(conn)
        .store()?;
        let messages = Prepared(
            diesel::update(messages::table)
                .filter(messages::account_id.eq(a).and(messages::sender_contact_id.eq(from)))
                .set(messages::sender_contact_id.eq(to)),
        )
        .execute(conn)
        .store()?;
        let contact_inboxes = Prepared(
            diesel::update(contact_inboxes::table)
                .filter(contact_inboxes::account_id.eq(a).and(contact_inboxes::contact_id.eq(from)))
                .set(contact_inboxes::contact_id.eq(to)),
        )
        .execute(conn)
        .store()?;
        let notes = Prepared(
            diesel::update(notes::table)
                .filter(notes::account_id.eq(a).and(notes::contact_id.eq(from)))
                .set(notes::contact_id.eq(to)),
        )
        .execute(conn)
        .store()?;
        // Labels are a union: take the mergee's rows and give the base each label it does not carry yet,
        // in one statement.
        let labels: Count = Prepared(
            diesel::sql_query(
                "WITH taken AS ( \
                     DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 RETURNING label), \
                 added AS ( \
                     INSERT INTO contact_labels (account_id, contact_id, label) SELECT $1, $3, label FROM taken \
                     ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING 1) \
                 SELECT count(*) AS n FROM taken",
            )
            .bind::<BigInt, _>(a)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to),
        )
        .get_result(conn)
        .store()?;
        Ok(MovedCounts {
            conversations: count(conversations),
            messages: count(messages),
            contact_inboxes: count(contact_inboxes),
            notes: count(notes),
            labels: u64::try_from(labels.n).unwrap_or(0),
        })
    }

    fn insert_merge_record(&mut self, r: &MergeRecord) -> Result<StoredMerge, StoreError> {
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (id, created_at): (i64, DateTime<Utc>) = diesel::insert_into(contact_merges::table)
            .values((
                contact_merges::account_id.eq(r.account_id.get()),
                contact_merges::actor_user_id.eq(r.actor.map(UserId::get)),
                contact_merges::base_contact_id.eq(r.base_contact_id.get()),
                contact_merges::mergee_contact_id.eq(r.mergee_contact_id.get()),
                contact_merges::mergee_snapshot.eq(&r.mergee_snapshot),
                contact_merges::moved_conversations.eq(signed(r.moved.conversations)),
                contact_merges::moved_messages.eq(signed(r.moved.messages)),
                contact_merges::moved_contact_inboxes.eq(signed(r.moved.contact_inboxes)),
                contact_merges::moved_notes.eq(signed(r.moved.notes)),
                contact_merges::moved_labels.eq(signed(r.moved.labels)),
            ))
            .returning((contact_merges::id, contact_merges::created_at))
            .get_result(self.conn())
            .store()?;
        Ok(StoredMerge { id, created_at })
    }

    fn count_children(&mut self, account: AccountId, contact: ContactId) -> Result<MovedCounts, StoreError> {
        let c: ChildCounts = diesel::sql_query(
            "SELECT \
               (SELECT count(*) FROM conversations WHERE account_id = $1 AND contact_id = $2) AS conversations, \
               (SELECT count(*) FROM messages WHERE account_id = $1 AND sender_contact_id = $2) AS messages, \
               (SELECT count(*) FROM contact_inboxes WHERE account_id = $1 AND contact_id = $2) AS contact_inboxes, \
               (SELECT count(*) FROM notes WHERE account_id = $1 AND contact_id = $2) AS notes, \
               (SELECT count(*) FROM contact_labels WHERE account_id = $1 AND contact_id = $2) AS labels",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(contact.get())
        .get_result(self.conn())
        .store()?;
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(MovedCounts {
            conversations: unsigned(c.conversations),
            messages: unsigned(c.messages),
            contact_inboxes: unsigned(c.contact_inboxes),
            notes: unsigned(c.notes),
            labels: unsigned(c.labels),
        })
    }

    fn taken_fields(
        &mut self,
        account: AccountId,
        attributes: &ContactAttributes,
        exclude: &[ContactId],
    ) -> Result<Vec<&'static str>, StoreError> {
        let exclude: Vec<i64> = exclude.iter().map(|c| c.get()).collect();
        let row: TakenRow = diesel::sql_query(
            "SELECT \
               EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND email = $2 AND id <> ALL($5)) AS email, \
               EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND identifier = $3 AND id <> ALL($5)) AS identifier, \
               EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND phone_number = $4 AND id <> ALL($5)) AS phone_number",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Nullable<Text>, _>(attributes.email.as_deref())
        .bind::<Nullable<Text>, _>(attributes.identifier.as_deref())
        .bind::<Nullable<Text>, _>(attributes.phone_number.as_deref())
        .bind::<Array<BigInt>, _>(exclude)
        .get_result(self.conn())
        .store()?;
        let fields = [("email", row.email), ("identifier", row.identifier), ("phone_number", row.phone_number)];
        Ok(fields.into_iter().filter_map(|(f, taken)| taken.then_some(f)).collect())
    }

    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError> {
        // Follow mergee -> base links; a contact is merged away at most once, so the chain has no branches.
        let row: MergedInto = diesel::sql_query(
            "WITH RECURSIVE chain (contact_id, depth) AS ( \
                 SELECT base_contact_id, 1 FROM contact_merges WHERE account_id = $1 AND mergee_contact_id = $2 \
                 UNION ALL \
                 SELECT m.base_contact_id, chain.depth + 1 FROM contact_merges m \
                 JOIN chain ON m.account_id = $1 AND m.mergee_contact_id = chain.contact_id \
                 WHERE chain.depth < 1000) \
             SELECT (SELECT c.id FROM chain JOIN contacts c ON c.account_id = $1 AND c.id = chain.contact_id \
                     ORDER BY chain.depth DESC LIMIT 1) AS id",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(id.get())
        .get_result(self.conn())
        .store()?;
        Ok(row.id.map(ContactId::new))
    }

    fn list_merges(
        &mut self,
        account: AccountId,
        contact: Option<ContactId>,
        page: Page,
    ) -> Result<(Vec<MergeEntry>, u64), StoreError> {
        let total = self.merge_history_count(account, contact)?;
        let mut query = contact_merges::table.filter(contact_merges::account_id.eq(account.get())).into_boxed();
        if let Some(c) = contact {
            query = query
                .filter(contact_merges::base_contact_id.eq(c.get()).or(contact_merges::mergee_contact_id.eq(c.get())));
        }
        let rows: Vec<MergeRow> = query
            .order(contact_merges::id.desc())
            .offset(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .limit(i64::from(page.size))
            .select(MERGE_COLUMNS)
            .load(self.conn())
            .store()?;
        Ok((rows.into_iter().map(merge_entry).collect(), total))
    }

    fn find_merge(&mut self, account: AccountId, id: i64) -> Result<Option<MergeEntry>, StoreError> {
        let row: Option<MergeRow> = contact_merges::table
            .filter(contact_merges::account_id.eq(account.get()))
            .filter(contact_merges::id.eq(id))
            .select(MERGE_COLUMNS)
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(merge_entry))
    }
}

#[derive(QueryableByName)]
struct ChildCounts {
    #[diesel(sql_type = BigInt)]
    conversations: i64,
    #[diesel(sql_type = BigInt)]
    messages: i64,
    #[diesel(sql_type = BigInt)]
    contact_inboxes: i64,
    #[diesel(sql_type = BigInt)]
    notes: i64,
    #[diesel(sql_type = BigInt)]
    labels: i64,
}

#[derive(QueryableByName)]
struct TakenRow {
    #[diesel(sql_type = Bool)]
    email: bool,
    #[diesel(sql_type = Bool)]
    identifier: bool,
    #[diesel(sql_type = Bool)]
    phone_number: bool,
}

#[derive(QueryableByName)]
struct MergedInto {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

type MergeColumns = (
    contact_merges::id,
    contact_merges::account_id,
    contact_merges::actor_user_id,
    contact_merges::base_contact_id,
    contact_merges::mergee_contact_id,
    contact_merges::mergee_snapshot,
    contact_merges::moved_conversations,
    contact_merges::moved_messages,
    contact_merges::moved_contact_inboxes,
    contact_merges::moved_notes,
    contact_merges::moved_labels,
    contact_merges::created_at,
);

const MERGE_COLUMNS: MergeColumns = (
    contact_merges::id,
    contact_merges::account_id,
    contact_merges::actor_user_id,
    contact_merges::base_contact_id,
    contact_merges::mergee_contact_id,
    contact_merges::mergee_snapshot,
    contact_merges::moved_conversations,
    contact_merges::moved_messages,
    contact_merges::moved_contact_inboxes,
    contact_merges::moved_notes,
    contact_merges::moved_labels,
    contact_merges::created_at,
);

type MergeRow = (i64, i64, Option<i64>, i64, i64, serde_json::Value, i64, i64, i64, i64, i64, DateTime<Utc>);

fn merge_entry(r: MergeRow) -> MergeEntry {
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    MergeEntry {
        id: r.0,
        account_id: AccountId::new(r.1),
        actor: r.2.map(UserId::new),
        base_contact_id: ContactId::new(r.3),
        mergee_contact_id: ContactId::new(r.4),
        mergee_snapshot: r.5,
        moved: MovedCounts {
            conversations: unsigned(r.6),
            messages: unsigned(r.7),
            contact_inboxes: unsigned(r.8),
            notes: unsigned(r.9),
            labels: unsigned(r.10),
        },
        created_at: r.11,
    }
}

impl PgSession {
    fn merge_history_count(&mut self, account: AccountId, contact: Option<ContactId>) -> Result<u64, StoreError> {
        let mut query = contact_merges::table.filter(contact_merges::account_id.eq(account.get())).into_boxed();
        if let Some(c) = contact {
            query = query
                .filter(contact_merges::base_contact_id.eq(c.get()).or(contact_merges::mergee_contact_id.eq(c.get())));
        }
        let n: i64 = query.count().get_result(self.conn()).store()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl OutboxStore for PgSession {
    fn enqueue_event(
        &mut self,
        account: AccountId,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        diesel::insert_into(outbox_events::table)
            .values((
                outbox_events::account_id.eq(account.get()),
                outbox_events::event_type.eq(event_type),
                outbox_events::payload.eq(payload),
            ))
            .execute(self.conn())
            .store()?;
        Ok(())
    }
}
