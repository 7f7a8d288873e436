//! [`DuplicateStore`] on PostgreSQL: the refresh queue (filled by triggers, migration
//! `2026-12-03-000003_duplicate_refresh_queue`) and the accounts' refresh locks, the candidate search of a contact
//! (its search keys written first, then index lookups, each bounded by a LIMIT), and the suggestions and
//! dismissals tables (use case: `application::duplicates`).

use std::collections::BTreeMap;

use application::ports::{Candidate, Candidates, DuplicateStore, HeldContacts, ScoredPair, StoredPair};
use application::StoreError;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Double, Float4, Jsonb, Nullable, Text};
use domain::duplicates::{email_domain, is_free_mail, Profile};
use domain::{AccountId, ContactId, UserId};

use super::{Count, PgSession};
use crate::errors::StoreResult;
use crate::prepared::Prepared;

/// A contact's identities: `(account_id, contact_id, kind, value)` with kind `email`, `phone_number`,
/// `identifier` or `source_id`: its own columns, its channel addresses, and its secondary emails and phone
/// numbers (normalized: emails lower-cased, as the contacts' are stored). Every read of "a contact's
/// identities" in this module goes through this one CTE. `NOT MATERIALIZED`: each use is inlined and
/// PostgreSQL pushes its conditions into the branches, where they meet the indexes on the tables. (`<> ''`
/// rather than `IS NOT NULL`, the same for stored values, which are never blank: `IS NOT NULL` is an index
/// condition, and with few identifiers stored the planner reads a contact's row through the identifier index,
/// scanning it, instead of the primary key.)
const IDENTITIES: &str = "identities AS NOT MATERIALIZED (
    SELECT account_id, id AS contact_id, 'email'::text AS kind, email AS value FROM contacts WHERE email <> ''
    UNION ALL
    SELECT account_id, id, 'phone_number'::text, phone_number FROM contacts WHERE phone_number <> ''
    UNION ALL
    SELECT account_id, id, 'identifier'::text, identifier FROM contacts WHERE identifier <> ''
    UNION ALL
    SELECT account_id, contact_id, 'source_id'::text, source_id FROM contact_inboxes
    UNION ALL
    SELECT h.account_id, h.contact_id, 'email'::text, i.normalized FROM contact_identity_holders h
    JOIN contact_identities i ON i.account_id = h.account_id AND i.holder_id = h.id
    WHERE i.kind = 'email' AND (NOT i.is_primary OR h.id <> h.contact_id) AND i.normalized IS DISTINCT FROM
        (SELECT lower(c.email) FROM contacts c WHERE c.account_id = h.account_id AND c.id = h.contact_id)
    UNION ALL
    SELECT h.account_id, h.contact_id, 'phone_number'::text, i.normalized FROM contact_identity_holders h
    JOIN contact_identities i ON i.account_id = h.account_id AND i.holder_id = h.id
    WHERE i.kind = 'phone_number' AND (NOT i.is_primary OR h.id <> h.contact_id) AND i.normalized IS DISTINCT FROM
        (SELECT c.phone_number FROM contacts c WHERE c.account_id = h.account_id AND c.id = h.contact_id)
)";

/// The keys the candidates of the contact (`$2`) of the account (`$1`) are found by, from its name and its
/// emails, primary and secondary (migrations `2026-12-03-000040` and `2026-12-04-000030`): written here, by the
/// refresher, rather than by the requests that change a contact or its identities (each of which queues the
/// contact for a refresh). Unchanged keys are left alone, so a refresh of a contact whose keys did not change
/// writes nothing; the keys it no longer has go. Its secondary emails are those of the holders it holds: the rows
/// of a holder merged away keep their first contact's primary flags, so they are read whatever their flag.
const KEYS_WRITTEN: &str = "wanted AS (
        SELECT DISTINCT k.kind, k.key FROM contacts c
        CROSS JOIN LATERAL (
            SELECT 'name', unnest(dedupe_name_keys(c.name))
            UNION ALL SELECT 'local', dedupe_local_key(c.email)
            UNION ALL SELECT 'domain', NULLIF(split_part(c.email, '@', 2), '')
            UNION ALL SELECT s.kind, s.key FROM contact_identity_holders h
                JOIN contact_identities i ON i.account_id = h.account_id AND i.holder_id = h.id
                CROSS JOIN LATERAL (
                    SELECT 'local', dedupe_local_key(i.normalized)
                    UNION ALL SELECT 'domain', NULLIF(split_part(i.normalized, '@', 2), '')
                ) AS s (kind, key)
                WHERE h.account_id = c.account_id AND h.contact_id = c.id AND i.kind = 'email'
                  AND (NOT i.is_primary OR h.id <> h.contact_id)
        ) AS k (kind, key)
        WHERE c.account_id = $1 AND c.id = $2 AND k.key IS NOT NULL
    ),
    keys_gone AS (
        DELETE FROM contact_dedupe_keys d WHERE d.account_id = $1 AND d.contact_id = $2
            AND (d.kind, d.key) NOT IN (SELECT kind, key FROM wanted)
    ),
    keys_added AS (
        INSERT INTO contact_dedupe_keys (account_id, contact_id, kind, key)
        SELECT $1, $2, kind, key FROM wanted ON CONFLICT DO NOTHING
    )";

/// The contact (`$2`) of the account (`$1`) with the keys its candidates are searched by, computed by the SQL
/// twins of the domain's key functions: one row per identity (one row with NULLs when it has none).
///
/// It first brings the contact's own keys in `contact_dedupe_keys` up to date ([`KEYS_WRITTEN`]), so
/// that the searches of the contacts refreshed after it find it.
///
/// It also switches the rest of the transaction to generic plans (`set_config(…, true)` is `SET LOCAL`): the
/// candidate query that follows inlines `identities` five times, and planning it takes longer than running it
/// (4–40 ms against 1–2 ms on 300,000 contacts, measured), while PostgreSQL would keep planning it afresh for
/// each contact because its generic plan looks no cheaper on paper. Its generic plan reads the same indexes.
/// What follows a refresh in any use case is a handful of simple, index-served statements.
fn profile_sql() -> String {
    format!(
        "WITH {IDENTITIES}, {KEYS_WRITTEN}
        SELECT c.id, c.name, lower(c.name) AS lname, 1::float8 AS name_similarity,
               set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode,
               dedupe_name_keys(c.name) AS name_keys, i.kind, i.value,
               CASE i.kind WHEN 'email' THEN dedupe_local_key(i.value)
                           WHEN 'source_id' THEN dedupe_source_key(i.value) END AS key
        FROM contacts c
        LEFT JOIN identities i ON i.account_id = $1 AND i.contact_id = $2
        WHERE c.account_id = $1 AND c.id = $2"
    )
}

/// The candidates of the contact `$2` of the account `$1`, one row per identity, from its lower-cased name
/// `$3`, name keys `$4` (the first being all its words joined), email local keys `$5`, channel address keys
/// `$6`, emails and phone numbers `$7` and company (not free-mail) email domains `$8` (passed as values, not
/// joined in: PostgreSQL pushes plain parameters into the branches of `identities`, where they meet the indexes,
/// but not sub-selects). Each search is an index lookup of a key, bounded by a LIMIT:
/// - the same name (its words joined, in either order; 10 of them tell a common name) and, apart, a name
///   spelling this email: the `name` keys of contact_dedupe_keys (its primary key);
/// - the same email local part, or an email spelling this name: the `local` keys (of primary and secondary
///   emails; 40 of them, as many as the two searches of primary and secondary ones found before they were one);
/// - a phone or email equal to one of this contact's channel addresses: the unique indexes on email and phone;
/// - a channel address equal to this contact's phone or email: contact_inboxes_dedupe_source_key_idx;
/// - a similar name at the same company domain: the `domain` keys (of primary and secondary emails), the first
///   200 contacts compared.
///
/// The keys are those the refresher wrote ([`KEYS_WRITTEN`]); a candidate is then read from its current row, so
/// a key left from a value it has since changed only makes it a candidate that scores low.
///
/// Names merely similar by trigrams are not searched for across the account: the trigram index answers that by
/// rechecking every row sharing a few trigrams (thousands for a common first name: 150 ms per contact created
/// on 300,000 contacts, measured), far over the write budget, and such a pair alone weighs under the minimum
/// anyway. The name's similarity still scores every candidate found.
fn candidates_sql() -> String {
    format!(
        "WITH {IDENTITIES},
        candidates AS MATERIALIZED (
            (SELECT k.contact_id AS id FROM contact_dedupe_keys k
             WHERE k.account_id = $1 AND k.kind = 'name' AND k.key = ANY ($4[1:1]) AND k.contact_id <> $2
             LIMIT 10)
            UNION
            (SELECT k.contact_id FROM contact_dedupe_keys k
             WHERE k.account_id = $1 AND k.kind = 'name' AND k.key = ANY ($5) AND k.contact_id <> $2
             LIMIT 10)
            UNION
            (SELECT k.contact_id FROM contact_dedupe_keys k
             WHERE k.account_id = $1 AND k.kind = 'local' AND k.key = ANY ($5 || $4) AND k.contact_id <> $2
             LIMIT 40)
            UNION
            (SELECT i.contact_id FROM identities i
             WHERE i.account_id = $1 AND i.kind IN ('email', 'phone_number') AND i.contact_id <> $2
               AND i.value = ANY ($6)
             LIMIT 20)
            UNION
            (SELECT i.contact_id FROM identities i
             WHERE i.account_id = $1 AND i.kind = 'source_id' AND i.contact_id <> $2
               AND dedupe_source_key(i.value) = ANY ($7)
             LIMIT 20)
            UNION
            (SELECT colleague.contact_id
             FROM (SELECT k.contact_id FROM contact_dedupe_keys k
                   WHERE k.account_id = $1 AND k.kind = 'domain' AND k.key = ANY ($8) AND k.contact_id <> $2
                   LIMIT 200) colleague
             JOIN contacts c ON c.account_id = $1 AND c.id = colleague.contact_id
             WHERE $3 <> '' AND similarity(lower(c.name), $3) >= 0.5
             LIMIT 20)
        )
        SELECT c.id, c.name, '' AS lname, similarity(lower(c.name), $3)::float8 AS name_similarity,
               '{{}}'::text[] AS name_keys,
               i.kind, i.value, NULL::text AS key
        FROM candidates
        JOIN contacts c ON c.account_id = $1 AND c.id = candidates.id
        -- OFFSET 0 keeps the lateral subquery from being flattened into a join with every identity of the account:
        -- it stays a lookup per candidate, through the primary key and contact_inboxes_contact_idx
        LEFT JOIN LATERAL (
            SELECT kind, value FROM identities WHERE account_id = $1 AND contact_id = c.id OFFSET 0
        ) i ON TRUE
        ORDER BY c.id"
    )
}

#[derive(QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    /// The name as PostgreSQL lower-cases it (only filled for the contact itself).
    #[diesel(sql_type = Text)]
    lname: String,
    #[diesel(sql_type = Double)]
    name_similarity: f64,
    #[diesel(sql_type = Array<Text>)]
    name_keys: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
}

/// Profiles from rows of one identity each, by contact id, with each contact's name similarity.
fn profiles(rows: Vec<CandidateRow>) -> BTreeMap<i64, (Profile, f64)> {
    let mut profiles: BTreeMap<i64, (Profile, f64)> = BTreeMap::new();
    for row in rows {
        let (profile, _) = profiles
            .entry(row.id)
            .or_insert_with(|| (Profile { name: row.name.clone(), ..Profile::default() }, row.name_similarity));
        let (Some(kind), Some(value)) = (row.kind, row.value) else { continue };
        match kind.as_str() {
            "email" => profile.emails.push(value),
            "phone_number" => profile.phones.push(value),
            "identifier" => profile.identifiers.push(value),
            _ => profile.source_ids.push(value),
        }
    }
    profiles
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = BigInt)]
    low_id: i64,
    #[diesel(sql_type = BigInt)]
    high_id: i64,
    #[diesel(sql_type = Double)]
    confidence: f64,
    #[diesel(sql_type = Jsonb)]
    reasons: serde_json::Value,
}

impl From<PairRow> for StoredPair {
    fn from(r: PairRow) -> Self {
        Self {
            low: ContactId::new(r.low_id),
            high: ContactId::new(r.high_id),
            confidence: r.confidence,
            reasons: r.reasons,
        }
    }
}

/// The class of the advisory locks that say "a refresher works on this account" (the second key is the
/// account id): refreshes of one account never run side by side.
const REFRESH_LOCK_CLASS: i32 = 0x00C0_D0B1;

/// The second key of an account's refresh lock (two accounts sharing one only wait for each other).
const REFRESH_LOCK_KEY: &str = "($1 & 2147483647)::int4";

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = BigInt)]
    account_id: i64,
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
}

#[derive(QueryableByName)]
struct HoldRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Bool)]
    held: bool,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A page of the account's pairs (`$1`) with at least confidence `$2`, best first, `$3` of them after `$4`: the
/// page's pairs from the best-first index alone (an index-only scan: a deep page walks index entries, not rows;
/// 10-30 ms at an OFFSET of 90,000 instead of 550), then their reasons.
const PAIRS_PAGE: &str = "SELECT p.low_id, p.high_id, round(p.confidence::numeric, 2)::float8 AS confidence, p.reasons
     FROM (SELECT low_id, high_id, confidence AS c FROM contact_duplicate_pairs
           WHERE account_id = $1 AND confidence >= $2
           ORDER BY confidence DESC, low_id, high_id LIMIT $3 OFFSET $4) AS page
     JOIN contact_duplicate_pairs p ON p.account_id = $1 AND p.low_id = page.low_id AND p.high_id = page.high_id
     ORDER BY page.c DESC, page.low_id, page.high_id";

/// The stored confidence (a `real`) as the two decimals it was computed with.
/// (`confidence` here is the rounded output column: a query ordering by the stored confidence must say
/// `contact_duplicate_pairs.confidence`, which the best-first index serves; the bare name would sort every pair
/// by the rounded value, 60-80 ms for 100,000 pairs.)
const PAIR_COLUMNS: &str = "low_id, high_id, round(confidence::numeric, 2)::float8 AS confidence, reasons";

impl DuplicateStore for PgSession {
    fn claim_duplicate_refreshes(&mut self, limit: u64) -> Result<Option<(AccountId, Vec<ContactId>)>, StoreError> {
        // The worker's transaction commits without waiting for the disk: after a crash it is lost together with
        // the removal of its queue rows, so the contacts are simply refreshed again.
        diesel::sql_query("SELECT set_config('synchronous_commit', 'off', true)").execute(self.conn()).store()?;
        // One account whose refresh lock is free (tried, never waited for), then up to `limit` of its queued
        // contacts; every queued row of those contacts goes. Rows queued after this statement's snapshot stay
        // for the next round, so a contact changed during this refresh is refreshed again.
        let rows: Vec<ClaimRow> = diesel::sql_query(format!(
            "WITH account AS (
                SELECT q.account_id FROM (SELECT DISTINCT account_id FROM contact_duplicate_refreshes) q
                WHERE pg_try_advisory_xact_lock({REFRESH_LOCK_CLASS}, (q.account_id & 2147483647)::int4)
                LIMIT 1
            ),
            picked AS (
                SELECT contact_id FROM contact_duplicate_refreshes
                WHERE account_id = (SELECT account_id FROM account)
                ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
            ),
            gone AS (
                DELETE FROM contact_duplicate_refreshes
                WHERE account_id = (SELECT account_id FROM account) AND contact_id IN (SELECT contact_id FROM picked)
                RETURNING account_id, contact_id
            )
            SELECT DISTINCT account_id, contact_id FROM gone ORDER BY contact_id"
        ))
        .bind::<BigInt, _>(signed(limit))
        .load(self.conn())
        .store()?;
        let Some(first) = rows.first() else { return Ok(None) };
        let account = AccountId::new(first.account_id);
        Ok(Some((account, rows.into_iter().map(|r| ContactId::new(r.contact_id)).collect())))
    }

    fn lock_duplicate_refreshes(&mut self, account: AccountId) -> Result<(), StoreError> {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({REFRESH_LOCK_CLASS}, {REFRESH_LOCK_KEY})"))
            .bind::<BigInt, _>(account.get())
            .execute(self.conn())
            .store()?;
        Ok(())
    }

    fn hold_for_refresh(&mut self, account: AccountId, contacts: &[ContactId]) -> Result<HeldContacts, StoreError> {
        // FOR KEY SHARE: ordinary updates go on beside it; a deletion, a merge or a dismissal (which lock the
        // contact FOR UPDATE) waits for this transaction, or, when it came first, the contact is reported busy
        // instead of being waited for (SKIP LOCKED), so that a refresher never waits for a request.
        let ids: Vec<i64> = contacts.iter().map(|c| c.get()).collect();
        let rows: Vec<HoldRow> = diesel::sql_query(
            "SELECT c.id, h.id IS NOT NULL AS held
             FROM contacts c
             LEFT JOIN (
                 SELECT id FROM contacts WHERE account_id = $1 AND id = ANY ($2) ORDER BY id
                 FOR KEY SHARE SKIP LOCKED
             ) h ON h.id = c.id
             WHERE c.account_id = $1 AND c.id = ANY ($2)
             ORDER BY c.id",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Array<BigInt>, _>(ids)
        .load(self.conn())
        .store()?;
        let (held, busy): (Vec<HoldRow>, Vec<HoldRow>) = rows.into_iter().partition(|r| r.held);
        let ids = |rows: Vec<HoldRow>| rows.into_iter().map(|r| ContactId::new(r.id)).collect();
        Ok(HeldContacts { held: ids(held), busy: ids(busy) })
    }

    fn queue_duplicate_refreshes(&mut self, account: AccountId, contacts: &[ContactId]) -> Result<(), StoreError> {
        let ids: Vec<i64> = contacts.iter().map(|c| c.get()).collect();
        diesel::sql_query(
            "INSERT INTO contact_duplicate_refreshes (account_id, contact_id) SELECT DISTINCT $1, unnest($2::bigint[]) \
             ON CONFLICT (account_id, contact_id, queued_by) DO NOTHING",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Array<BigInt>, _>(ids)
        .execute(self.conn())
        .store()?;
        Ok(())
    }

    fn duplicate_candidates(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Option<Candidates>, StoreError> {
        let mine: Vec<CandidateRow> = Prepared(
            diesel::sql_query(profile_sql()).bind::<BigInt, _>(account.get()).bind::<BigInt, _>(contact.get()),
        )
        .load(self.conn())
        .store()?;
        let Some(first) = mine.first() else { return Ok(None) };
        let (lname, name_keys) = (first.lname.clone(), first.name_keys.clone());
        let keys = |kind: &str| -> Vec<String> {
            mine.iter().filter(|r| r.kind.as_deref() == Some(kind)).filter_map(|r| r.key.clone()).collect()
        };
        let (local_keys, source_keys) = (keys("email"), keys("source_id"));
        let companies: Vec<String> = mine
            .iter()
            .filter(|r| r.kind.as_deref() == Some("email"))
            .filter_map(|r| r.value.as_deref().and_then(email_domain))
            .filter(|d| !is_free_mail(d))
            .map(str::to_owned)
            .collect();
        let addresses: Vec<String> = mine
            .iter()
            .filter(|r| matches!(r.kind.as_deref(), Some("email" | "phone_number")))
            .filter_map(|r| r.value.clone())
            .collect();
        let Some((this, _)) = profiles(mine).remove(&contact.get()) else { return Ok(None) };
        let rows: Vec<CandidateRow> = Prepared(
            diesel::sql_query(candidates_sql())
                .bind::<BigInt, _>(account.get())
                .bind::<BigInt, _>(contact.get())
                .bind::<Text, _>(lname)
                .bind::<Array<Text>, _>(name_keys)
                .bind::<Array<Text>, _>(local_keys)
                .bind::<Array<Text>, _>(source_keys)
                .bind::<Array<Text>, _>(addresses)
                .bind::<Array<Text>, _>(companies),
        )
        .load(self.conn())
        .store()?;
        let others = profiles(rows)
            .into_iter()
            .map(|(id, (profile, name_similarity))| Candidate { id: ContactId::new(id), profile, name_similarity })
            .collect();
        Ok(Some(Candidates { this, others }))
    }

    fn replace_duplicates(
        &mut self,
        account: AccountId,
        contact: ContactId,
        pairs: &[ScoredPair],
        new_contact: bool,
    ) -> Result<(), StoreError> {
        if !new_contact {
            // SKIP LOCKED: a pair another transaction holds is being deleted by it (the cascade of a merge or a
            // deletion, a dismissal; refreshes of one account never run side by side). Never waiting here, a
            // refresh waits for no request once it has started.
            Prepared(
                diesel::sql_query(
                    "DELETE FROM contact_duplicate_pairs WHERE (account_id, low_id, high_id) IN (
                        SELECT account_id, low_id, high_id FROM contact_duplicate_pairs
                        WHERE account_id = $1 AND (low_id = $2 OR high_id = $2) FOR UPDATE SKIP LOCKED
                    )",
                )
                .bind::<BigInt, _>(account.get())
                .bind::<BigInt, _>(contact.get()),
            )
            .execute(self.conn())
            .store()?;
        }
        if pairs.is_empty() {
            return Ok(());
        }
        let others: Vec<i64> = pairs.iter().map(|p| p.other.get()).collect();
        #[allow(clippy::cast_possible_truncation)] // two decimals in 0–1 fit a real
        let confidences: Vec<f32> = pairs.iter().map(|p| p.confidence as f32).collect();
        let reasons: Vec<serde_json::Value> = pairs.iter().map(|p| p.reasons.clone()).collect();
        // The other contact is locked FOR KEY SHARE (what the foreign key's check takes anyway) SKIP LOCKED: a
        // candidate being deleted, merged away or dismissed meanwhile is left out instead of failing the foreign
        // key or being waited for (the refresher never waits for a request); a contact that changes is queued
        // and refreshed itself.
        Prepared(
            diesel::sql_query(
                "WITH alive AS (
                SELECT id FROM contacts WHERE account_id = $1 AND id = ANY ($3) FOR KEY SHARE SKIP LOCKED
            )
            INSERT INTO contact_duplicate_pairs (account_id, low_id, high_id, confidence, reasons)
            SELECT $1, least($2, n.other), greatest($2, n.other), n.confidence, n.reasons
            FROM unnest($3::bigint[], $4::real[], $5::jsonb[]) AS n (other, confidence, reasons)
            JOIN alive ON alive.id = n.other
            WHERE NOT EXISTS (
                SELECT 1 FROM contact_duplicate_dismissals d
                WHERE d.account_id = $1 AND d.low_id = least($2, n.other) AND d.high_id = greatest($2, n.other)
            )
            ON CONFLICT (account_id, low_id, high_id)
            DO UPDATE SET confidence = EXCLUDED.confidence, reasons = EXCLUDED.reasons, updated_at = now()",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<BigInt, _>(contact.get())
            .bind::<Array<BigInt>, _>(others)
            .bind::<Array<Float4>, _>(confidences)
            .bind::<Array<Jsonb>, _>(reasons),
        )
        .execute(self.conn())
        .store()?;
        Ok(())
    }

    fn dismiss_duplicate(
        &mut self,
        account: AccountId,
        low: ContactId,
        high: ContactId,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        // one fixed text: prepared once per connection (the undo sends it too)
        Prepared(
            diesel::sql_query(
                "WITH gone AS (
                    DELETE FROM contact_duplicate_pairs WHERE account_id = $1 AND low_id = $2 AND high_id = $3
                )
                INSERT INTO contact_duplicate_dismissals (account_id, low_id, high_id, dismissed_by)
                VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<BigInt, _>(low.get())
            .bind::<BigInt, _>(high.get())
            .bind::<Nullable<BigInt>, _>(by.map(UserId::get)),
        )
        .execute(self.conn())
        .store()?;
        Ok(())
    }

    fn duplicates_of(
        &mut self,
        account: AccountId,
        contact: ContactId,
        limit: u64,
    ) -> Result<Vec<StoredPair>, StoreError> {
        let rows: Vec<PairRow> = diesel::sql_query(format!(
            "SELECT {PAIR_COLUMNS} FROM contact_duplicate_pairs
             WHERE account_id = $1 AND (low_id = $2 OR high_id = $2)
             ORDER BY contact_duplicate_pairs.confidence DESC, low_id, high_id LIMIT $3"
        ))
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(contact.get())
        .bind::<BigInt, _>(signed(limit))
        .load(self.conn())
        .store()?;
        Ok(rows.into_iter().map(StoredPair::from).collect())
    }

    fn duplicate_pairs(
        &mut self,
        account: AccountId,
        min_confidence: f64,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<StoredPair>), StoreError> {
        // compared as the column's type, so that 0.8 finds the pairs stored as 0.8
        #[allow(clippy::cast_possible_truncation)]
        let min = min_confidence as f32;
        let rows: Vec<PairRow> = diesel::sql_query(PAIRS_PAGE)
            .bind::<BigInt, _>(account.get())
            .bind::<Float4, _>(min)
            .bind::<BigInt, _>(signed(limit))
            .bind::<BigInt, _>(signed(offset))
            .load(self.conn())
            .store()?;
        let total: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM contact_duplicate_pairs WHERE account_id = $1 AND confidence >= $2",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Float4, _>(min)
        .get_result(self.conn())
        .store()?;
        Ok((u64::try_from(total.n).unwrap_or(0), rows.into_iter().map(StoredPair::from).collect()))
    }

    fn contact_ids_after(&mut self, account: AccountId, after: i64, limit: u64) -> Result<Vec<ContactId>, StoreError> {
        let rows: Vec<IdRow> =
            diesel::sql_query("SELECT id FROM contacts WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind::<BigInt, _>(account.get())
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(signed(limit))
                .load(self.conn())
                .store()?;
        Ok(rows.into_iter().map(|r| ContactId::new(r.id)).collect())
    }

    fn count_contacts(&mut self, account: AccountId) -> Result<u64, StoreError> {
        let n: Count = diesel::sql_query("SELECT count(*) AS n FROM contacts WHERE account_id = $1")
            .bind::<BigInt, _>(account.get())
            .get_result(self.conn())
            .store()?;
        Ok(u64::try_from(n.n).unwrap_or(0))
    }

    fn clear_duplicates(&mut self, account: AccountId) -> Result<u64, StoreError> {
        let n = diesel::sql_query("DELETE FROM contact_duplicate_pairs WHERE account_id = $1")
            .bind::<BigInt, _>(account.get())
            .execute(self.conn())
            .store()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(all(test, feature = "test-support"))]
mod tests;
