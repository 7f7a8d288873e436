//! [`PgSession`]: every port of `application` implemented on one pooled connection, inside a transaction or in
//! autocommit mode. Dropping a transactional session without committing rolls it back.

use application::idempotency::{Claim, IdempotencyRequest, IdempotencyStore, StoredResponse, KEY_LIFETIME_HOURS};
use application::ports::{
    Account, AccountStatus, AdminStore, AuthStore, ContactPage, ContactQuery, ContactSort, ContactSortKey,
    ContactStore, Conversation, ConversationStore, Credentials, DeletedCounts, InboxStore, LabelStore, MergeEntry,
    MergeRecord, MergeStore, Message, MessageType, MovedCounts, NewContact, NewConversation, Note, NoteStore,
    OutboxStore, Page, PlatformGrant, Role, Sender, StoredContactInbox, StoredMerge, TokenOwner, User,
};
use application::webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};
use application::{Session, StoreError};
use chrono::{DateTime, Utc};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Integer, Jsonb, Nullable, Text, Timestamptz};
use domain::{
    AccountId, Contact, ContactAttributes, ContactId, ContactInbox, ConversationId, InboxId, InboxSummary, NoteId,
    UserId,
};

use crate::errors::StoreResult;
use crate::models::{
    contact_inbox, ContactAttributesChangeset, ContactRow, ConversationRow, InboxRow, MessageRow, NewContactRow,
    NoteRow, UserRow,
};
use crate::pool::PgPooled;
use crate::prepared::Prepared;
use crate::schema::{
    access_tokens, account_users, accounts, contact_inboxes, contact_labels, contact_merges, contacts, conversations,
    inboxes, messages, notes, outbox_events, platform_app_accounts, platform_app_users, platform_apps, users,
    webhook_deliveries, webhooks,
};

/// One connection, with or without an open transaction.
pub struct PgSession {
    conn: PgPooled,
    open_transaction: bool,
}

impl PgSession {
    /// Opens a transaction on the connection.
    pub fn begin(mut conn: PgPooled) -> Result<Self, StoreError> {
        AnsiTransactionManager::begin_transaction(&mut **conn).store()?;
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
            if let Err(e) = AnsiTransactionManager::rollback_transaction(&mut **self.conn) {
                log::warn!("rollback failed: {e}");
            }
        }
    }
}

impl Session for PgSession {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.open_transaction {
            self.open_transaction = false;
            AnsiTransactionManager::commit_transaction(&mut **self.conn).store()?;
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

    fn grant_platform_app(&mut self, app: i64, grant: PlatformGrant) -> Result<(), StoreError> {
        match grant {
            PlatformGrant::Account(account) => diesel::insert_into(platform_app_accounts::table)
                .values((
                    platform_app_accounts::platform_app_id.eq(app),
                    platform_app_accounts::account_id.eq(account.get()),
                ))
                .execute(self.conn()),
            PlatformGrant::User(user) => diesel::insert_into(platform_app_users::table)
                .values((platform_app_users::platform_app_id.eq(app), platform_app_users::user_id.eq(user.get())))
                .execute(self.conn()),
        }
        .store()?;
        Ok(())
    }

    fn platform_app_grants(&mut self, app: i64, account: AccountId, user: UserId) -> Result<(bool, bool), StoreError> {
        let account_granted = platform_app_accounts::table
            .filter(platform_app_accounts::platform_app_id.eq(app))
            .filter(platform_app_accounts::account_id.eq(account.get()))
            .select(platform_app_accounts::account_id);
        let user_granted = platform_app_users::table
            .filter(platform_app_users::platform_app_id.eq(app))
            .filter(platform_app_users::user_id.eq(user.get()))
            .select(platform_app_users::user_id);
        diesel::select((diesel::dsl::exists(account_granted), diesel::dsl::exists(user_granted)))
            .get_result(self.conn())
            .store()
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

    fn contact_inboxes(&mut self, account: AccountId, id: ContactId) -> Result<Vec<ContactInbox>, StoreError> {
        let rows: Vec<(String, InboxRow)> =
            contact_inboxes::table
                .inner_join(inboxes::table.on(
                    inboxes::id.eq(contact_inboxes::inbox_id).and(inboxes::account_id.eq(contact_inboxes::account_id)),
                ))
                .filter(contact_inboxes::account_id.eq(account.get()))
                .filter(contact_inboxes::contact_id.eq(id.get()))
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

    fn find_contacts(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|c| c.get()).collect();
        let rows: Vec<ContactRow> = contacts::table
            .filter(contacts::account_id.eq(account.get()))
            .filter(contacts::id.eq_any(ids))
            .select(ContactRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(Contact::from).collect())
    }

    fn insert_contact(&mut self, account: AccountId, contact: &NewContact) -> Result<Contact, StoreError> {
        let row: ContactRow = diesel::insert_into(contacts::table)
            .values(NewContactRow::new(account, contact))
            .returning(ContactRow::as_returning())
            .get_result(self.conn())
            .store()?;
        Ok(row.into())
    }

    fn update_contact(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
        blocked: bool,
    ) -> Result<Contact, StoreError> {
        let row: ContactRow = diesel::update(
            contacts::table.filter(contacts::account_id.eq(account.get())).filter(contacts::id.eq(id.get())),
        )
        .set((ContactAttributesChangeset::new(attributes), contacts::blocked.eq(blocked)))
        .returning(ContactRow::as_returning())
        .get_result(self.conn())
        .store()?;
        Ok(row.into())
    }

    fn touch_contact(&mut self, account: AccountId, id: ContactId, at: DateTime<Utc>) -> Result<(), StoreError> {
        diesel::update(
            contacts::table.filter(contacts::account_id.eq(account.get())).filter(contacts::id.eq(id.get())),
        )
        .set(contacts::last_activity_at.eq(at))
        .execute(self.conn())
        .store()?;
        Ok(())
    }

    fn contacts_page(&mut self, account: AccountId, query: &ContactQuery) -> Result<ContactPage, StoreError> {
        let condition = if query.search.is_some() { SEARCH_CONDITION } else { "TRUE" };
        let pattern = query.search.as_deref().map(like_pattern).unwrap_or_default();
        let page_sql = contacts_page_sql(condition, query.sort);
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let rows: Vec<ContactRow> = diesel::sql_query(page_sql)
            .bind::<BigInt, _>(account.get())
            .bind::<Text, _>(&pattern)
            .bind::<BigInt, _>(signed(query.limit))
            .bind::<BigInt, _>(signed(query.offset))
            .load(self.conn())
            .store()?;
        let total: Count =
            diesel::sql_query(format!("SELECT count(*) AS n FROM contacts WHERE account_id = $1 AND {condition}"))
                .bind::<BigInt, _>(account.get())
                .bind::<Text, _>(&pattern)
                .get_result(self.conn())
                .store()?;
        Ok(ContactPage {
            total: u64::try_from(total.n).unwrap_or(0),
            contacts: rows.into_iter().map(Contact::from).collect(),
        })
    }

    fn contact_inboxes_of(
        &mut self,
        account: AccountId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactId, ContactInbox)>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|c| c.get()).collect();
        let rows: Vec<(i64, String, InboxRow)> =
            contact_inboxes::table
                .inner_join(inboxes::table.on(
                    inboxes::id.eq(contact_inboxes::inbox_id).and(inboxes::account_id.eq(contact_inboxes::account_id)),
                ))
                .filter(contact_inboxes::account_id.eq(account.get()))
                .filter(contact_inboxes::contact_id.eq_any(ids))
                .order(contact_inboxes::id.asc())
                .select((contact_inboxes::contact_id, contact_inboxes::source_id, InboxRow::as_select()))
                .load(self.conn())
                .store()?;
        Ok(rows
            .into_iter()
            .map(|(owner, source_id, inbox)| (ContactId::new(owner), contact_inbox(source_id, inbox)))
            .collect())
    }

    fn insert_contact_inbox(
        &mut self,
        account: AccountId,
        contact: ContactId,
        inbox: InboxId,
        source_id: &str,
    ) -> Result<StoredContactInbox, StoreError> {
        let inbox_row = self.inbox_row(account, inbox)?.ok_or(StoreError::MissingReference { entity: "inbox" })?;
        let id: i64 = diesel::insert_into(contact_inboxes::table)
            .values((
                contact_inboxes::account_id.eq(account.get()),
                contact_inboxes::contact_id.eq(contact.get()),
                contact_inboxes::inbox_id.eq(inbox.get()),
                contact_inboxes::source_id.eq(source_id),
            ))
            .returning(contact_inboxes::id)
            .get_result(self.conn())
            .store()?;
        Ok(StoredContactInbox {
            id,
            contact_id: contact,
            contact_inbox: contact_inbox(source_id.to_owned(), inbox_row),
        })
    }

    fn find_contact_inbox_by_source(
        &mut self,
        account: AccountId,
        inbox: InboxId,
        source_id: &str,
    ) -> Result<Option<StoredContactInbox>, StoreError> {
        self.stored_contact_inbox(account, ContactInboxKey::Source(inbox, source_id))
    }

    fn find_contact_inbox_of(
        &mut self,
        account: AccountId,
        contact: ContactId,
        inbox: InboxId,
    ) -> Result<Option<StoredContactInbox>, StoreError> {
        self.stored_contact_inbox(account, ContactInboxKey::OfContact(inbox, contact))
    }

    fn delete_contact_children(&mut self, account: AccountId, id: ContactId) -> Result<DeletedCounts, StoreError> {
        let (a, id) = (account.get(), id.get());
        let conn = &mut **self.conn;
        // The messages of its conversations (whoever sent them) and the messages it sent in other conversations.
        let of_its_conversations = conversations::table
            .filter(conversations::account_id.eq(a).and(conversations::contact_id.eq(id)))
            .select(conversations::id);
        let messages = diesel::delete(messages::table)
            .filter(messages::account_id.eq(a))
            .filter(messages::sender_contact_id.eq(id).or(messages::conversation_id.eq_any(of_its_conversations)))
            .execute(conn)
            .store()?;
        let conversations = diesel::delete(conversations::table)
            .filter(conversations::account_id.eq(a).and(conversations::contact_id.eq(id)))
            .execute(conn)
            .store()?;
        let contact_inboxes = diesel::delete(contact_inboxes::table)
            .filter(contact_inboxes::account_id.eq(a).and(contact_inboxes::contact_id.eq(id)))
            .execute(conn)
            .store()?;
        let notes = diesel::delete(notes::table)
            .filter(notes::account_id.eq(a).and(notes::contact_id.eq(id)))
            .execute(conn)
            .store()?;
        let labels = diesel::delete(contact_labels::table)
            .filter(contact_labels::account_id.eq(a).and(contact_labels::contact_id.eq(id)))
            .execute(conn)
            .store()?;
        Ok(DeletedCounts {
            messages: count(messages),
            conversations: count(conversations),
            contact_inboxes: count(contact_inboxes),
            notes: count(notes),
            labels: count(labels),
        })
    }
}

/// The search predicate. Each alternative is written exactly as its trigram index is defined (see the first
/// migration), so that PostgreSQL can answer it with a bitmap OR of the four GIN indexes instead of scanning
/// the account's contacts. `$2` is the escaped `%term%` pattern; emails are stored lower-cased, so their
/// index needs no `lower()`, and phone numbers have no case.
pub const SEARCH_CONDITION: &str = "(lower(name) LIKE lower($2) OR email LIKE lower($2) \
     OR phone_number LIKE lower($2) OR lower(identifier) LIKE lower($2))";

/// `%term%` with LIKE's special characters escaped (backslash is PostgreSQL's default LIKE escape), so that
/// every character of the term matches itself.
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of contacts: `$1` the account, `$2` the search pattern (unused without a search), `$3` the limit,
/// `$4` the offset. Assembled from fixed fragments only; nothing the client sent is spliced in.
fn contacts_page_sql(condition: &str, sort: ContactSort) -> String {
    let direction = if sort.descending { "DESC" } else { "ASC" };
    let (expression, nullable) = sort_expression(sort.key);
    // Missing values come last either way. NULLS LAST is only spelled out where a column can be NULL: on a NOT
    // NULL column it changes nothing but would stop (account_id, created_at, id) serving descending pages.
    let nulls = if nullable { " NULLS LAST" } else { "" };
    if condition == "TRUE" {
        format!(
            "SELECT contacts.* FROM contacts WHERE account_id = $1 AND {condition} \
             ORDER BY {expression} {direction}{nulls}, id {direction} LIMIT $3 OFFSET $4"
        )
    } else {
        // A search matches few contacts: find them through the trigram indexes first, then sort that handful.
        // Without the fence a cached generic plan may walk the sort order's index and test every contact.
        format!(
            "WITH matches AS MATERIALIZED (SELECT contacts.* FROM contacts WHERE account_id = $1 AND {condition}) \
             SELECT * FROM matches ORDER BY {expression} {direction}{nulls}, id {direction} LIMIT $3 OFFSET $4"
        )
    }
}

/// The SQL a sort key orders by, and whether it can be NULL.
fn sort_expression(key: ContactSortKey) -> (&'static str, bool) {
    match key {
        // case-insensitive, as people read names
        ContactSortKey::Name => ("lower(name)", false),
        ContactSortKey::Email => ("email", true),
        ContactSortKey::PhoneNumber => ("phone_number", true),
        // served by contacts_account_last_activity_idx in the default (descending) direction
        ContactSortKey::LastActivityAt => ("last_activity_at", true),
        // served by contacts_account_created_idx in both directions
        ContactSortKey::CreatedAt => ("created_at", false),
    }
}

/// How a single contact inbox is looked up.
enum ContactInboxKey<'a> {
    /// By its address in an inbox (unique).
    Source(InboxId, &'a str),
    /// The contact's oldest address in an inbox.
    OfContact(InboxId, ContactId),
}

impl PgSession {
    fn inbox_row(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxRow>, StoreError> {
        inboxes::table
            .filter(inboxes::account_id.eq(account.get()))
            .filter(inboxes::id.eq(id.get()))
            .select(InboxRow::as_select())
            .first(self.conn())
            .optional()
            .store()
    }

    /// The first (oldest) contact inbox of the account that `key` picks, with its inbox.
    fn stored_contact_inbox(
        &mut self,
        account: AccountId,
        key: ContactInboxKey<'_>,
    ) -> Result<Option<StoredContactInbox>, StoreError> {
        let mut query =
            contact_inboxes::table
                .inner_join(inboxes::table.on(
                    inboxes::id.eq(contact_inboxes::inbox_id).and(inboxes::account_id.eq(contact_inboxes::account_id)),
                ))
                .filter(contact_inboxes::account_id.eq(account.get()))
                .into_boxed();
        query = match key {
            ContactInboxKey::Source(inbox, source_id) => query
                .filter(contact_inboxes::inbox_id.eq(inbox.get()))
                .filter(contact_inboxes::source_id.eq(source_id.to_owned())),
            ContactInboxKey::OfContact(inbox, contact) => query
                .filter(contact_inboxes::inbox_id.eq(inbox.get()))
                .filter(contact_inboxes::contact_id.eq(contact.get())),
        };
        let row: Option<(i64, i64, String, InboxRow)> = query
            .order(contact_inboxes::id.asc())
            .select((
                contact_inboxes::id,
                contact_inboxes::contact_id,
                contact_inboxes::source_id,
                InboxRow::as_select(),
            ))
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(|(id, owner, source_id, inbox)| StoredContactInbox {
            id,
            contact_id: ContactId::new(owner),
            contact_inbox: contact_inbox(source_id, inbox),
        }))
    }

    fn users_by_id(&mut self, ids: &[i64]) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> =
            users::table.filter(users::id.eq_any(ids)).select(UserRow::as_select()).load(self.conn()).store()?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    fn note_author(&mut self, row: NoteRow, user_id: Option<i64>) -> Result<Note, StoreError> {
        let author = match user_id {
            Some(u) => self.users_by_id(&[u])?.into_iter().next(),
            None => None,
        };
        Ok(row.into_note(author))
    }
}

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

impl ConversationStore for PgSession {
    fn next_display_id(&mut self, account: AccountId) -> Result<i64, StoreError> {
        diesel::update(accounts::table.find(account.get()))
            .set(accounts::last_conversation_display_id.eq(accounts::last_conversation_display_id + 1))
            .returning(accounts::last_conversation_display_id)
            .get_result(self.conn())
            .optional()
            .store()?
            .ok_or(StoreError::MissingReference { entity: "account" })
    }

    fn insert_conversation(&mut self, account: AccountId, c: &NewConversation) -> Result<Conversation, StoreError> {
        let row: ConversationRow = diesel::insert_into(conversations::table)
            .values((
                conversations::account_id.eq(account.get()),
                conversations::display_id.eq(c.display_id),
                conversations::inbox_id.eq(c.inbox_id.get()),
                conversations::contact_id.eq(c.contact_id.get()),
                conversations::contact_inbox_id.eq(c.contact_inbox_id),
            ))
            .returning(ConversationRow::as_returning())
            .get_result(self.conn())
            .store()?;
        Ok(row.into())
    }

    fn find_conversation(&mut self, account: AccountId, display_id: i64) -> Result<Option<Conversation>, StoreError> {
        let row: Option<ConversationRow> = conversations::table
            .filter(conversations::account_id.eq(account.get()))
            .filter(conversations::display_id.eq(display_id))
            .select(ConversationRow::as_select())
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(Conversation::from))
    }

    fn conversations_of_contact(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Conversation>, StoreError> {
        let rows: Vec<ConversationRow> = conversations::table
            .filter(conversations::account_id.eq(account.get()))
            .filter(conversations::contact_id.eq(contact.get()))
            .order((conversations::last_activity_at.desc(), conversations::id.desc()))
            .select(ConversationRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(Conversation::from).collect())
    }

    fn touch_conversation(
        &mut self,
        account: AccountId,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        diesel::update(
            conversations::table
                .filter(conversations::account_id.eq(account.get()))
                .filter(conversations::id.eq(id.get())),
        )
        .set((conversations::last_activity_at.eq(at), conversations::updated_at.eq(at)))
        .execute(self.conn())
        .store()?;
        Ok(())
    }

    fn insert_message(
        &mut self,
        account: AccountId,
        conversation: ConversationId,
        message_type: MessageType,
        content: &str,
        sender: Sender,
    ) -> Result<Message, StoreError> {
        let (sender_contact, sender_user) = match sender {
            Sender::Contact(c) => (Some(c.get()), None),
            Sender::User(u) => (None, Some(u.get())),
            Sender::Nobody => (None, None),
        };
        let row: MessageRow = diesel::insert_into(messages::table)
            .values((
                messages::account_id.eq(account.get()),
                messages::conversation_id.eq(conversation.get()),
                messages::message_type.eq(message_type.as_str()),
                messages::content.eq(content),
                messages::sender_contact_id.eq(sender_contact),
                messages::sender_user_id.eq(sender_user),
            ))
            .returning(MessageRow::as_returning())
            .get_result(self.conn())
            .store()?;
        Ok(row.into())
    }

    fn messages(&mut self, account: AccountId, conversation: ConversationId) -> Result<Vec<Message>, StoreError> {
        let rows: Vec<MessageRow> = messages::table
            .filter(messages::account_id.eq(account.get()))
            .filter(messages::conversation_id.eq(conversation.get()))
            .order(messages::id.asc())
            .select(MessageRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    fn find_users(&mut self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|u| u.get()).collect();
        self.users_by_id(&ids)
    }
}

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
        // Every child in one statement (one round trip whatever the number of rows): conversations, the
        // messages the mergee sent, contact inboxes and notes change owner; labels are a union, the mergee's rows
        // taken and the base given each label it does not carry yet. Foreign keys are checked at the end of the
        // statement, against all of it.
        let (a, from, to) = (account.get(), from.get(), to.get());
        let moved: ChildCounts = Prepared(
            diesel::sql_query(
                "WITH conversations_moved AS ( \
                     UPDATE conversations SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING 1), \
                 messages_moved AS ( \
                     UPDATE messages SET sender_contact_id = $3 \
                     WHERE account_id = $1 AND sender_contact_id = $2 RETURNING 1), \
                 contact_inboxes_moved AS ( \
                     UPDATE contact_inboxes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING 1), \
                 notes_moved AS ( \
                     UPDATE notes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING 1), \
                 labels_taken AS ( \
                     DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 RETURNING label), \
                 labels_added AS ( \
                     INSERT INTO contact_labels (account_id, contact_id, label) SELECT $1, $3, label FROM labels_taken \
                     ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING 1) \
                 SELECT (SELECT count(*) FROM conversations_moved) AS conversations, \
                        (SELECT count(*) FROM messages_moved) AS messages, \
                        (SELECT count(*) FROM contact_inboxes_moved) AS contact_inboxes, \
                        (SELECT count(*) FROM notes_moved) AS notes, \
                        (SELECT count(*) FROM labels_taken) AS labels",
            )
            .bind::<BigInt, _>(a)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to),
        )
        .get_result(self.conn())
        .store()?;
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(MovedCounts {
            conversations: unsigned(moved.conversations),
            messages: unsigned(moved.messages),
            contact_inboxes: unsigned(moved.contact_inboxes),
            notes: unsigned(moved.notes),
            labels: unsigned(moved.labels),
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
            .select(MergeRow::as_select())
            .load(self.conn())
            .store()?;
        Ok((rows.into_iter().map(merge_entry).collect(), total))
    }

    fn find_merge(&mut self, account: AccountId, id: i64) -> Result<Option<MergeEntry>, StoreError> {
        let row: Option<MergeRow> = contact_merges::table
            .filter(contact_merges::account_id.eq(account.get()))
            .filter(contact_merges::id.eq(id))
            .select(MergeRow::as_select())
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

/// A `contact_merges` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = contact_merges, check_for_backend(diesel::pg::Pg))]
struct MergeRow {
    id: i64,
    account_id: i64,
    actor_user_id: Option<i64>,
    base_contact_id: i64,
    mergee_contact_id: i64,
    mergee_snapshot: serde_json::Value,
    moved_conversations: i64,
    moved_messages: i64,
    moved_contact_inboxes: i64,
    moved_notes: i64,
    moved_labels: i64,
    created_at: DateTime<Utc>,
}

fn merge_entry(r: MergeRow) -> MergeEntry {
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    MergeEntry {
        id: r.id,
        account_id: AccountId::new(r.account_id),
        actor: r.actor_user_id.map(UserId::new),
        base_contact_id: ContactId::new(r.base_contact_id),
        mergee_contact_id: ContactId::new(r.mergee_contact_id),
        mergee_snapshot: r.mergee_snapshot,
        moved: MovedCounts {
            conversations: unsigned(r.moved_conversations),
            messages: unsigned(r.moved_messages),
            contact_inboxes: unsigned(r.moved_contact_inboxes),
            notes: unsigned(r.moved_notes),
            labels: unsigned(r.moved_labels),
        },
        created_at: r.created_at,
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

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Bytea)]
    request_fingerprint: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    response_status: i16,
    #[diesel(sql_type = Text)]
    response_body: String,
}

impl IdempotencyStore for PgSession {
    fn claim_idempotency_key(&mut self, account: AccountId, request: &IdempotencyRequest) -> Result<Claim, StoreError> {
        // Insert the key, or take over one older than its lifetime. While another open transaction holds the
        // same key, PostgreSQL makes this statement wait for it to end.
        let claimed = diesel::sql_query(format!(
            "INSERT INTO idempotency_keys (account_id, idempotency_key, request_fingerprint, response_status, response_body) \
             VALUES ($1, $2, $3, 0, '') \
             ON CONFLICT (account_id, idempotency_key) DO UPDATE \
               SET request_fingerprint = EXCLUDED.request_fingerprint, response_status = 0, response_body = '', \
                   created_at = now() \
               WHERE idempotency_keys.created_at < now() - interval '{KEY_LIFETIME_HOURS} hours'"
        ))
        .bind::<BigInt, _>(account.get())
        .bind::<Text, _>(&request.key)
        .bind::<Bytea, _>(&request.fingerprint)
        .execute(self.conn())
        .store()?;
        if claimed == 1 {
            return Ok(Claim::Fresh);
        }
        let row: KeyRow = diesel::sql_query(
            "SELECT request_fingerprint, response_status, response_body FROM idempotency_keys \
             WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Text, _>(&request.key)
        .get_result(self.conn())
        .store()?;
        Ok(if row.request_fingerprint == request.fingerprint {
            Claim::Replay(StoredResponse {
                status: u16::try_from(row.response_status).unwrap_or(500),
                body: row.response_body,
            })
        } else {
            Claim::Reused
        })
    }

    fn save_idempotent_response(
        &mut self,
        account: AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        diesel::sql_query(
            "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
             WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Text, _>(key)
        .bind::<diesel::sql_types::SmallInt, _>(i16::try_from(response.status).unwrap_or(500))
        .bind::<Text, _>(&response.body)
        .execute(self.conn())
        .store()?;
        Ok(())
    }
}

#[derive(QueryableByName)]
struct WebhookRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    account_id: i64,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Array<Text>)]
    subscriptions: Vec<String>,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_delivered_at: Option<DateTime<Utc>>,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Self {
            id: r.id,
            account_id: AccountId::new(r.account_id),
            url: r.url,
            subscriptions: r.subscriptions,
            secret: r.secret,
            stats: DeliveryStats {
                delivered: unsigned(r.delivered),
                pending: unsigned(r.pending),
                failed: unsigned(r.failed),
                last_error: r.last_error,
                last_delivered_at: r.last_delivered_at,
            },
        }
    }
}

const WEBHOOK_SELECT: &str = "SELECT w.id, w.account_id, w.url, w.subscriptions, w.secret, \
       coalesce(s.delivered, 0) AS delivered, coalesce(s.pending, 0) AS pending, coalesce(s.failed, 0) AS failed, \
       (SELECT d.last_error FROM webhook_deliveries d WHERE d.account_id = w.account_id AND d.webhook_id = w.id \
          AND d.last_error IS NOT NULL ORDER BY d.id DESC LIMIT 1) AS last_error, \
       s.last_delivered_at \
     FROM webhooks w LEFT JOIN LATERAL ( \
       SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, \
              count(*) FILTER (WHERE status = 'pending') AS pending, \
              count(*) FILTER (WHERE status = 'failed') AS failed, \
              max(delivered_at) AS last_delivered_at \
       FROM webhook_deliveries d WHERE d.account_id = w.account_id AND d.webhook_id = w.id) s ON true";

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = BigInt)]
    account_id: i64,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl WebhookStore for PgSession {
    fn insert_webhook(
        &mut self,
        account: AccountId,
        url: &str,
        subscriptions: &[String],
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        let id: i64 = diesel::insert_into(webhooks::table)
            .values((
                webhooks::account_id.eq(account.get()),
                webhooks::url.eq(url),
                webhooks::subscriptions.eq(subscriptions),
                webhooks::secret.eq(secret),
            ))
            .returning(webhooks::id)
            .get_result(self.conn())
            .store()?;
        Ok(Webhook {
            id,
            account_id: account,
            url: url.to_owned(),
            subscriptions: subscriptions.to_vec(),
            secret: secret.to_owned(),
            stats: DeliveryStats::default(),
        })
    }

    fn list_webhooks(&mut self, account: AccountId) -> Result<Vec<Webhook>, StoreError> {
        let rows: Vec<WebhookRow> =
            diesel::sql_query(format!("{WEBHOOK_SELECT} WHERE w.account_id = $1 ORDER BY w.id"))
                .bind::<BigInt, _>(account.get())
                .load(self.conn())
                .store()?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    fn delete_webhook(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::account_id.eq(account.get()))
                .filter(webhook_deliveries::webhook_id.eq(id)),
        )
        .execute(self.conn())
        .store()?;
        let n =
            diesel::delete(webhooks::table.filter(webhooks::account_id.eq(account.get())).filter(webhooks::id.eq(id)))
                .execute(self.conn())
                .store()?;
        Ok(n == 1)
    }

    fn fan_out_events(&mut self, limit: u32) -> Result<u64, StoreError> {
        // One statement: claim a batch of unprocessed events (skipping those another worker holds), create a
        // delivery per subscribed webhook, mark the batch processed.
        let n: Count = diesel::sql_query(
            "WITH batch AS ( \
                 SELECT id, account_id, replace(event_type, '.', '_') AS event, payload, created_at FROM outbox_events \
                 WHERE processed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED), \
             fanned AS ( \
                 INSERT INTO webhook_deliveries (account_id, webhook_id, event_id, event_type, payload, created_at) \
                 SELECT b.account_id, w.id, b.id, b.event, b.payload, b.created_at FROM batch b \
                 JOIN webhooks w ON w.account_id = b.account_id AND b.event = ANY (w.subscriptions) \
                 ON CONFLICT ON CONSTRAINT webhook_deliveries_once_key DO NOTHING RETURNING 1), \
             done AS ( \
                 UPDATE outbox_events SET processed_at = now() WHERE id IN (SELECT id FROM batch) RETURNING 1) \
             SELECT count(*) AS n FROM done",
        )
        .bind::<BigInt, _>(i64::from(limit))
        .get_result(self.conn())
        .store()?;
        Ok(u64::try_from(n.n).unwrap_or(0))
    }

    fn claim_due_deliveries(&mut self, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        let rows: Vec<DueRow> = diesel::sql_query(
            "SELECT d.id, d.event_id, d.event_type, d.account_id, d.payload, d.attempts, w.url, w.secret, d.created_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.account_id = d.account_id AND w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
             ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
        )
        .bind::<BigInt, _>(i64::from(limit))
        .load(self.conn())
        .store()?;
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: r.id,
                event_id: r.event_id,
                event_type: r.event_type,
                account_id: AccountId::new(r.account_id),
                payload: r.payload,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                url: r.url,
                secret: r.secret,
                created_at: r.created_at,
            })
            .collect())
    }

    fn record_delivery(&mut self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        let (status, code, error, retry_in_ms) = match outcome {
            DeliveryOutcome::Delivered { status } => ("delivered", Some(*status), None, 0),
            DeliveryOutcome::Retry { error, status, next_attempt_in } => (
                "pending",
                *status,
                Some(error.as_str()),
                i64::try_from(next_attempt_in.as_millis()).unwrap_or(i64::MAX),
            ),
            DeliveryOutcome::Failed { error, status } => ("failed", *status, Some(error.as_str()), 0),
        };
        diesel::sql_query(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_response_status = $3, \
               last_error = $4, \
               delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, \
               next_attempt_at = now() + make_interval(secs => $5::double precision / 1000) \
             WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(status)
        .bind::<Nullable<Integer>, _>(code.map(i32::from))
        .bind::<Nullable<Text>, _>(error)
        .bind::<BigInt, _>(retry_in_ms)
        .execute(self.conn())
        .store()?;
        Ok(())
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

#[cfg(all(test, feature = "test-support"))]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use diesel::sql_types::Text;

    use super::*;
    use crate::testing::TestDatabase;

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }

    #[test]
    fn like_patterns_escape_every_wildcard() {
        assert_eq!(like_pattern("ada"), "%ada%");
        assert_eq!(like_pattern("100%"), r"%100\%%");
        assert_eq!(like_pattern("a_b"), r"%a\_b%");
        assert_eq!(like_pattern(r"c:\x"), r"%c:\\x%");
    }

    /// The search predicate must be answerable from the four trigram indexes: with sequential scans priced
    /// out, the plan reads each of them. A predicate that drifted from the indexed expressions (say
    /// `name ILIKE …` instead of `lower(name) LIKE …`) could only be answered by reading every row. Whether the
    /// planner then prefers them to the account index is a matter of statistics; on a large table it does
    /// (checked by hand on 200,000 contacts: a bitmap OR of the four, well under a millisecond).
    #[test]
    fn search_is_served_by_the_trigram_indexes() {
        let db = TestDatabase::new();
        let mut conn = db.connection();
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
        diesel::sql_query(
            "INSERT INTO contacts (account_id, name, email, phone_number, identifier) \
             SELECT (SELECT min(id) FROM accounts), 'Name ' || g, 'e' || g || '@example.com', '+4930' || g, 'id-' || g \
             FROM generate_series(1, 2000) g",
        )
        .execute(&mut conn)
        .expect("contacts");
        diesel::sql_query("ANALYZE contacts").execute(&mut conn).expect("analyze");
        diesel::sql_query("SET enable_seqscan = off").execute(&mut conn).expect("set");
        // $1 (the account) is not part of the predicate; the dummy keeps the parameter numbering of the real query
        let query = format!("EXPLAIN SELECT id FROM contacts WHERE $1::bigint IS NOT NULL AND {SEARCH_CONDITION}");
        let plan: Vec<PlanLine> = diesel::sql_query(query)
            .bind::<BigInt, _>(1_i64)
            .bind::<Text, _>(like_pattern("name 1234"))
            .load(&mut conn)
            .expect("explain");
        let plan: String = plan.into_iter().map(|l| l.line + "\n").collect();
        for index in [
            "contacts_name_trgm_idx",
            "contacts_email_trgm_idx",
            "contacts_phone_number_trgm_idx",
            "contacts_identifier_trgm_idx",
        ] {
            assert!(plan.contains(index), "{index} is not used:\n{plan}");
        }
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }

    /// The default order (most recently active first) and both created_at orders are read from an index, page
    /// by page, instead of sorting the whole account.
    #[test]
    fn list_pages_are_read_in_index_order() {
        let db = TestDatabase::new();
        let mut conn = db.connection();
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
        diesel::sql_query(
            "INSERT INTO contacts (account_id, name, last_activity_at) \
             SELECT (SELECT min(id) FROM accounts), 'Name ' || g, CASE WHEN g % 3 = 0 THEN now() - g * interval '1 minute' END \
             FROM generate_series(1, 5000) g",
        )
        .execute(&mut conn)
        .expect("contacts");
        diesel::sql_query("ANALYZE contacts").execute(&mut conn).expect("analyze");
        for (sort, index) in [
            (ContactSort::default(), "contacts_account_last_activity_idx"),
            (ContactSort { key: ContactSortKey::CreatedAt, descending: true }, "contacts_account_created_idx"),
            (ContactSort { key: ContactSortKey::CreatedAt, descending: false }, "contacts_account_created_idx"),
        ] {
            let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {}", contacts_page_sql("TRUE", sort)))
                .bind::<BigInt, _>(1_i64)
                .bind::<Text, _>("")
                .bind::<BigInt, _>(15_i64)
                .bind::<BigInt, _>(30_i64)
                .load(&mut conn)
                .expect("explain");
            let plan: String = plan.into_iter().map(|l| l.line + "\n").collect();
            assert!(plan.contains(index) && !plan.contains("Sort"), "{sort:?} should read {index}:\n{plan}");
        }
    }
}
