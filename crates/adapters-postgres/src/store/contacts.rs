//! [`ContactStore`] on PostgreSQL: contacts, their channel addresses (contact inboxes), the paged and searched
//! contact list, and the set-based delete of a contact's children (use case: `application::contacts`; the merge
//! locks and rewrites contacts through these too).

use application::ports::{
    ContactPage, ContactQuery, ContactStore, CredentialsAndContact, DeletedCounts, NewContact, StoredContactInbox,
    SEARCH_COUNT_CEILING,
};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, InboxId};

#[cfg(all(test, feature = "test-support"))]
use self::pages::SEARCH_CONDITION;
use self::pages::{broad_search_page_sql, contacts_page_sql, KEPT_COUNT_SQL};
use super::{count, Count, PgSession};
use crate::errors::StoreResult;
use crate::models::{contact_inbox, ContactAttributesChangeset, ContactRow, InboxRow, NewContactRow};
use crate::prepared::Prepared;
use crate::schema::{contact_inboxes, contact_labels, contacts, conversations, inboxes, messages, notes};
use crate::trigram_shares::probes;

mod pages;
#[cfg(all(test, feature = "test-support"))]
mod search_tests;

impl ContactStore for PgSession {
    fn credentials_and_contact(
        &mut self,
        token_digest: &[u8],
        account: AccountId,
        id: ContactId,
    ) -> Result<CredentialsAndContact, StoreError> {
        super::signed_in::credentials_and_contact(self.conn(), token_digest, account, id)
    }

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
        let pattern = query.search.as_deref().map(like_pattern).unwrap_or_default();
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (limit, offset) = (signed(query.limit), signed(query.offset));
        // Not prepared: each search is planned for its own pattern (a generic plan cannot tell a term that
        // matches one contact from one that matches all of them). Tried: as a named prepared statement, whose
        // parse and analysis would be saved, PostgreSQL switched to one generic plan after a few rare and
        // common terms on 20,000 contacts, a scan of the account for every term.
        // A long term is looked up in the index by its rarest pieces (see `crate::trigram_shares`).
        let probes = match (&query.search, &self.db) {
            (Some(term), Some(db)) => db.search_shares().map(|shares| probes(term, &shares)).unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut statement = diesel::sql_query(contacts_page_sql(query.search.is_some(), query.sort, probes.len()))
            .into_boxed::<Pg>()
            .bind::<BigInt, _>(account.get())
            .bind::<Text, _>(&pattern)
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(offset)
            .bind::<BigInt, _>(signed(SEARCH_COUNT_CEILING.saturating_add(1)));
        for probe in &probes {
            statement = statement.bind::<Text, _>(probe);
        }
        let rows: Vec<CountedContactRow> = statement.load(self.conn()).store()?;
        let Some(total) = rows.first().map(|r| u64::try_from(r.total).unwrap_or(0)) else {
            // No row at all: a search that matches nothing (its marker row needs a match), or a list page past
            // the end, where only a second statement can say where the end is.
            let total = match query.search {
                Some(_) => 0,
                None if query.offset == 0 => 0,
                None => {
                    Prepared(diesel::sql_query(KEPT_COUNT_SQL).bind::<BigInt, _>(account.get()))
                        .get_result::<Count>(self.conn())
                        .store()?
                        .n
                }
            };
            return Ok(ContactPage { total: u64::try_from(total).unwrap_or(0), contacts: Vec::new() });
        };
        let (contacts, total) = match query.search {
            None => (rows.into_iter().map(|r| Contact::from(r.contact)).collect(), total),
            // More matches than the ceiling: the first statement answered with its marker row only. The page is
            // read along the sort order's index, testing each contact for the term until the page is full,
            // which a term most contacts match fills at once (sorting them all would cost a scan of the
            // account). A second round trip, for these searches only.
            Some(_) if total > SEARCH_COUNT_CEILING => {
                let rows: Vec<ContactRow> = diesel::sql_query(broad_search_page_sql(query.sort))
                    .bind::<BigInt, _>(account.get())
                    .bind::<Text, _>(&pattern)
                    .bind::<BigInt, _>(limit)
                    .bind::<BigInt, _>(offset)
                    .load(self.conn())
                    .store()?;
                (rows.into_iter().map(Contact::from).collect(), SEARCH_COUNT_CEILING)
            }
            // a page past the end: the row is the marker, which carried the count
            Some(_) if query.offset >= total => (Vec::new(), total),
            Some(_) => (rows.into_iter().map(|r| Contact::from(r.contact)).collect(), total),
        };
        Ok(ContactPage { total, contacts })
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

/// A page row and the number of matches in all pages.
#[derive(QueryableByName)]
struct CountedContactRow {
    #[diesel(embed)]
    contact: ContactRow,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// How a single contact inbox is looked up.
enum ContactInboxKey<'a> {
    /// By its address in an inbox (unique).
    Source(InboxId, &'a str),
    /// The contact's oldest address in an inbox.
    OfContact(InboxId, ContactId),
}

impl PgSession {
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
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use diesel::sql_types::Text;

    use super::*;
    use crate::testing::{plan_of, TestDatabase};

    #[test]
    fn like_patterns_escape_every_wildcard() {
        assert_eq!(like_pattern("ada"), "%ada%");
        assert_eq!(like_pattern("100%"), r"%100\%%");
        assert_eq!(like_pattern("a_b"), r"%a\_b%");
        assert_eq!(like_pattern(r"c:\x"), r"%c:\\x%");
    }

    /// The search predicate must be answerable from the search's trigram index and the secondary identities'
    /// one: with sequential scans priced out, the plan reads both. A predicate that drifted from the indexed
    /// expression (say a separator or a `lower()` differing from the migration's) could only be answered by
    /// reading every row. Whether the planner then prefers them to the account index is a matter of statistics;
    /// on a large table it does (checked by hand on 1,000,000 contacts: a bitmap OR of the two).
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
        // $1 (the account) is not part of the predicate, nor are $3 to $5; the dummies keep the parameter
        // numbering of the real query
        let whole = format!("SELECT id FROM contacts WHERE $1::bigint IS NOT NULL AND {SEARCH_CONDITION}");
        let plan = plan_of(&mut conn, &whole, |explain| {
            explain.bind::<BigInt, _>(1_i64).bind::<Text, _>(like_pattern("name 1234"))
        })
        .join("\n");
        for index in ["contacts_search_trgm_idx", "contact_identities_secondary_trgm_idx", "contacts_pkey"] {
            assert!(plan.contains(index), "{index} is not used:\n{plan}");
        }
        assert!(!plan.contains("Seq Scan"), "{plan}");
        // a long term looked up by two of its pieces: the index is asked for the pieces, not for the term
        let probed = format!(
            "SELECT id FROM contacts WHERE $1::bigint IS NOT NULL AND $3::bigint IS NOT NULL AND $4::bigint IS NOT NULL \
             AND $5::bigint IS NOT NULL AND {}",
            self::pages::probed_search_condition(2)
        );
        let plan = plan_of(&mut conn, &probed, |explain| {
            explain
                .bind::<BigInt, _>(1_i64)
                .bind::<Text, _>(like_pattern("e1234@example.com"))
                .bind::<BigInt, _>(0_i64)
                .bind::<BigInt, _>(0_i64)
                .bind::<BigInt, _>(0_i64)
                .bind::<Text, _>("%e12%")
                .bind::<Text, _>("%234%")
        })
        .join("\n");
        for index in ["contacts_search_trgm_idx", "contact_identities_secondary_trgm_idx", "contacts_pkey"] {
            assert!(plan.contains(index), "{index} is not used:\n{plan}");
        }
        // the condition the search's index is asked (the line after its scan)
        let index_condition = plan
            .lines()
            .skip_while(|l| !l.contains("Bitmap Index Scan on contacts_search_trgm_idx"))
            .nth(1)
            .unwrap_or_default();
        assert!(index_condition.contains("%e12%") && index_condition.contains("%234%"), "{plan}");
        assert!(!index_condition.contains("e1234@example.com"), "the whole term is tested on the rows:\n{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}
