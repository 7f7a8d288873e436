//! [`PgSession`]: every port of `application` implemented on one pooled connection, inside a transaction or in
//! autocommit mode. Dropping a transactional session without committing rolls it back.

use application::idempotency::{Claim, IdempotencyRequest, IdempotencyStore, StoredResponse, KEY_LIFETIME_HOURS};
use application::ports::{
    Account, AccountStatus, AdminStore, AuthStore, ContactStore, Credentials, MergeEntry, MergeRecord, MergeStore,
    MovedCounts, OutboxStore, Page, Role, StoredMerge, TokenOwner, User,
};
use application::webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};
use application::{Session, StoreError};
use chrono::{DateTime, Utc};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Integer, Jsonb, Nullable, Text, Timestamptz};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, UserId};

use crate::errors::StoreResult;
use crate::models::{contact_inbox, ContactAttributesChangeset, ContactRow, InboxRow};
use crate::pool::PgPooled;
use crate::schema::{
    access_tokens, account_users, accounts, contact_inboxes, contact_merges, contacts, conversations, inboxes,
    messages, notes, outbox_events, platform_apps, users, webhook_deliveries, webhooks,
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
        let row: CredentialsRow = diesel::sql_query(
            "SELECT t.user_id, t.platform_app_id, a.status AS account_status, au.role \
             FROM (SELECT 1) AS one \
             LEFT JOIN access_tokens t ON t.token_digest = $1 \
             LEFT JOIN accounts a ON a.id = $2 \
             LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id",
        )
        .bind::<Bytea, _>(token_digest)
        .bind::<Nullable<BigInt>, _>(account.map(AccountId::get))
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
        let row: ContactRow = diesel::update(
            contacts::table.filter(contacts::account_id.eq(account.get())).filter(contacts::id.eq(id.get())),
        )
        .set(ContactAttributesChangeset::new(attributes))
        .returning(ContactRow::as_returning())
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
        let conversations = diesel::update(conversations::table)
            .filter(conversations::account_id.eq(a).and(conversations::contact_id.eq(from)))
            .set(conversations::contact_id.eq(to))
            .execute(conn)
            .store()?;
        let messages = diesel::update(messages::table)
            .filter(messages::account_id.eq(a).and(messages::sender_contact_id.eq(from)))
            .set(messages::sender_contact_id.eq(to))
            .execute(conn)
            .store()?;
        let contact_inboxes = diesel::update(contact_inboxes::table)
            .filter(contact_inboxes::account_id.eq(a).and(contact_inboxes::contact_id.eq(from)))
            .set(contact_inboxes::contact_id.eq(to))
            .execute(conn)
            .store()?;
        let notes = diesel::update(notes::table)
            .filter(notes::account_id.eq(a).and(notes::contact_id.eq(from)))
            .set(notes::contact_id.eq(to))
            .execute(conn)
            .store()?;
        // Labels are a union: take the mergee's rows and give the base each label it does not carry yet,
        // in one statement.
        let labels: Count = diesel::sql_query(
            "WITH taken AS ( \
                 DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 RETURNING label), \
             added AS ( \
                 INSERT INTO contact_labels (account_id, contact_id, label) SELECT $1, $3, label FROM taken \
                 ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING 1) \
             SELECT count(*) AS n FROM taken",
        )
        .bind::<BigInt, _>(a)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
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
