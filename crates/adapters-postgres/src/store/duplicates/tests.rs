//! The duplicates store against PostgreSQL: the SQL key functions, the indexes the candidate search reads, and
//! the refresh queue's triggers and claims.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use diesel::sql_types::Text;
use domain::duplicates::{email_local_key, name_keys, source_key};

use super::*;
use crate::schema::contacts;
use crate::testing::{plan_of, TestDatabase};

#[derive(QueryableByName)]
struct Keys {
    #[diesel(sql_type = Nullable<Text>)]
    local_key: Option<String>,
    #[diesel(sql_type = Array<Text>)]
    name_keys: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    source_key: Option<String>,
}

/// The SQL key functions that find candidates through indexes and the domain's that score them agree.
#[test]
fn the_sql_key_functions_are_the_domains_twins() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    for sample in [
        "Jo.Doe+news@Acme.example",
        "Jo Q. Doe",
        "  Cher ",
        "Émile Zola-Martin",
        "4915112345678",
        "whatsapp:+49 151 1234-5678",
        "a1b2c3d4-0000-4000-8000-000000000000",
        "123456",
        "web-jo",
        "",
    ] {
        let k: Keys = diesel::sql_query(
            "SELECT dedupe_local_key($1) AS local_key, dedupe_name_keys($1) AS name_keys, \
             dedupe_source_key($1) AS source_key",
        )
        .bind::<Text, _>(sample)
        .get_result(&mut conn)
        .expect("keys");
        assert_eq!(k.local_key, email_local_key(sample), "local key of {sample:?}");
        // the same keys (SQL may list one twice: a two-word name is both "all words" and "first + last")
        let mut sql_keys = k.name_keys;
        let mut seen = std::collections::BTreeSet::new();
        sql_keys.retain(|key| seen.insert(key.clone()));
        assert_eq!(sql_keys, name_keys(sample), "name keys of {sample:?}");
        assert_eq!(k.source_key, source_key(sample), "source key of {sample:?}");
    }
}

/// The queue is filled by the triggers only for what the rules read, and two refreshers never take the
/// same account: the second takes another one, the third finds none free, and none waits.
#[test]
fn triggers_queue_changes_and_refreshers_take_different_accounts() {
    use application::ports::Database;

    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query("INSERT INTO accounts (name) VALUES ('a'), ('b')").execute(&mut conn).expect("accounts");
    diesel::sql_query(
        "INSERT INTO contacts (account_id, name, email) \
         SELECT a.id, 'Jo Doe', 'jo' || a.id || '.' || g || '@example.com' \
         FROM accounts a, generate_series(1, 3) g",
    )
    .execute(&mut conn)
    .expect("contacts");
    let queued = |conn: &mut PgConnection| -> i64 {
        diesel::sql_query("SELECT count(*) AS n FROM contact_duplicate_refreshes")
            .get_result::<Count>(conn)
            .expect("count")
            .n
    };
    assert_eq!(queued(&mut conn), 6, "every insert");
    diesel::sql_query("UPDATE contacts SET blocked = true, custom_attributes = '{\"x\": 1}'")
        .execute(&mut conn)
        .expect("update");
    assert_eq!(queued(&mut conn), 6, "nothing the rules read changed");
    diesel::sql_query("UPDATE contacts SET name = 'Jo  Doe' WHERE id = (SELECT min(id) FROM contacts)")
        .execute(&mut conn)
        .expect("rename");
    assert_eq!(queued(&mut conn), 7);

    let pg = db.pool(3);
    let mut first = pg.begin().expect("begin");
    let (a, ids) = first.claim_duplicate_refreshes(10).expect("claim").expect("an account");
    assert_eq!(ids.len(), 3, "each contact once, its rows all taken");
    let mut second = pg.begin().expect("begin");
    let (b, _) = second.claim_duplicate_refreshes(10).expect("claim").expect("the other account");
    assert_ne!(a, b);
    let mut third = pg.begin().expect("begin");
    assert_eq!(third.claim_duplicate_refreshes(10).expect("claim"), None, "both accounts are taken");
    drop(third);
    first.commit().expect("commit");
    drop(second);
    let of_b: Count = diesel::sql_query("SELECT count(*) AS n FROM contact_duplicate_refreshes WHERE account_id = $1")
        .bind::<BigInt, _>(b.get())
        .get_result(&mut conn)
        .expect("count");
    assert!(of_b.n >= 3, "the rolled-back claim left its rows queued");
    assert_eq!(queued(&mut conn), of_b.n, "the committed claim took all of its account's rows");
}

/// A contact's search keys are written by its refresh, not by the write that changed it: the refresh writes
/// them (and leaves unchanged ones alone), a later one replaces those of a renamed contact, and a contact
/// found only through its keys is found once it was refreshed; a deleted contact's keys go with it.
#[test]
fn a_refresh_keeps_the_contacts_search_keys_current() {
    use application::ports::Database;

    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
    let ids: Vec<IdRow> = diesel::sql_query(
        "INSERT INTO contacts (account_id, name, email) SELECT min(id), n, e FROM accounts, \
         (VALUES ('Jo Doe', 'jo.doe@acme.example'), ('Jo Doe', 'jd@other.example')) v (n, e) \
         GROUP BY n, e ORDER BY e DESC RETURNING id",
    )
    .load(&mut conn)
    .expect("contacts");
    let (account, first, second) = (AccountId::new(1), ContactId::new(ids[0].id), ContactId::new(ids[1].id));
    let keys = |conn: &mut PgConnection, contact: ContactId| -> Vec<String> {
        #[derive(QueryableByName)]
        struct Key {
            #[diesel(sql_type = Text)]
            key: String,
        }
        diesel::sql_query(
            "SELECT kind || ':' || key AS key FROM contact_dedupe_keys WHERE contact_id = $1 ORDER BY kind, key",
        )
        .bind::<BigInt, _>(contact.get())
        .load::<Key>(conn)
        .expect("keys")
        .into_iter()
        .map(|k| k.key)
        .collect()
    };
    assert!(keys(&mut conn, first).is_empty(), "a create writes no keys");

    let pg = db.pool(1);
    let mut tx = pg.begin().expect("begin");
    let found = tx.duplicate_candidates(account, first).expect("search").expect("the contact");
    assert!(found.others.is_empty(), "the other was not refreshed yet: no keys to find it by");
    let found = tx.duplicate_candidates(account, second).expect("search").expect("the contact");
    assert_eq!(found.others.iter().map(|c| c.id).collect::<Vec<_>>(), [first], "found by the first's keys");
    tx.commit().expect("commit");
    assert_eq!(keys(&mut conn, first), ["domain:acme.example", "local:jodoe", "name:doejo", "name:jdoe", "name:jodoe"]);

    diesel::sql_query("UPDATE contacts SET name = 'Ann Lee' WHERE id = $1")
        .bind::<BigInt, _>(first.get())
        .execute(&mut conn)
        .expect("rename");
    let mut tx = pg.begin().expect("begin");
    tx.duplicate_candidates(account, first).expect("search").expect("the contact");
    tx.commit().expect("commit");
    assert_eq!(
        keys(&mut conn, first),
        ["domain:acme.example", "local:jodoe", "name:alee", "name:annlee", "name:leeann"],
        "the old name's keys are gone"
    );

    diesel::sql_query("DELETE FROM contacts WHERE id = $1")
        .bind::<BigInt, _>(first.get())
        .execute(&mut conn)
        .expect("delete");
    assert!(keys(&mut conn, first).is_empty(), "the keys went with the contact");
}

/// Every candidate search is answered from an index: with sequential scans priced out, the plan reads the
/// keys' primary key (names, local parts, domains), the channel-address index and those of the secondary
/// identities, and never scans contacts, contact inboxes, identities or keys.
#[test]
fn the_candidate_search_is_served_by_indexes() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
    diesel::sql_query(
        "INSERT INTO inboxes (account_id, name, channel_type) SELECT min(id), 'wa', 'Channel::Api' FROM accounts",
    )
    .execute(&mut conn)
    .expect("inbox");
    diesel::sql_query(
        "INSERT INTO contacts (account_id, name, email, phone_number) \
         SELECT (SELECT min(id) FROM accounts), substr(md5(g::text), 1, 8) || ' ' || substr(md5((-g)::text), 1, 8), \
                'p' || g || '@example.com', '+4930' || g \
         FROM generate_series(1, 3000) g",
    )
    .execute(&mut conn)
    .expect("contacts");
    diesel::sql_query(
        "INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) \
         SELECT account_id, id, (SELECT min(id) FROM inboxes), '49151' || id FROM contacts",
    )
    .execute(&mut conn)
    .expect("contact inboxes");
    // each contact also keeps an old email and phone number, as a merge leaves them
    diesel::sql_query(
        "INSERT INTO contact_identities (account_id, holder_id, kind, value, is_primary, source) \
         SELECT account_id, id, 'email', 'old' || id || '@old-' || (id % 50) || '.example', FALSE, 'merge' FROM contacts \
         UNION ALL SELECT account_id, id, 'phone_number', '+4940' || id, FALSE, 'merge' FROM contacts",
    )
    .execute(&mut conn)
    .expect("secondary identities");
    // the keys a refresh of each contact writes
    let ids: Vec<(i64, i64)> =
        contacts::table.select((contacts::account_id, contacts::id)).load(&mut conn).expect("ids");
    for (account, id) in ids {
        diesel::sql_query(format!("WITH {KEYS_WRITTEN} SELECT 1"))
            .bind::<BigInt, _>(account)
            .bind::<BigInt, _>(id)
            .execute(&mut conn)
            .expect("keys");
    }
    diesel::sql_query("ANALYZE").execute(&mut conn).expect("analyze");
    diesel::sql_query("SET enable_seqscan = off").execute(&mut conn).expect("set");
    let plan = plan_of(&mut conn, &candidates_sql(), |explain| {
        explain
            .bind::<BigInt, _>(1_i64)
            .bind::<BigInt, _>(1_i64)
            .bind::<Text, _>("c4ca4238 6bb61e3b")
            .bind::<Array<Text>, _>(vec!["c4ca42386bb61e3b".to_owned()])
            .bind::<Array<Text>, _>(vec!["p1".to_owned()])
            .bind::<Array<Text>, _>(vec!["+4915111".to_owned()])
            .bind::<Array<Text>, _>(vec!["p1@example.com".to_owned(), "+49301".to_owned()])
            .bind::<Array<Text>, _>(vec!["example.com".to_owned()])
    })
    .join("\n");
    for index in [
        "contact_dedupe_keys_pkey",
        "contact_inboxes_dedupe_source_key_idx",
        // secondary emails and phone numbers (their email keys are contact_dedupe_keys')
        "contact_identities_email_key",
        "contact_identities_phone_number_key",
    ] {
        assert!(plan.contains(index), "{index} is not used:\n{plan}");
    }
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

/// The account's pairs are paged from the best-first index alone, in its order: no sort of the pairs (ordering
/// by the rounded output column once sorted all of them) and no row read before the page's.
#[test]
fn the_pair_list_pages_from_the_best_first_index() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
    diesel::sql_query(
        "INSERT INTO contacts (account_id, name) SELECT (SELECT min(id) FROM accounts), 'c' || g \
         FROM generate_series(1, 4001) g",
    )
    .execute(&mut conn)
    .expect("contacts");
    diesel::sql_query(
        "INSERT INTO contact_duplicate_pairs (account_id, low_id, high_id, confidence, reasons) \
         SELECT account_id, id, id + 1, 0.3 + (id % 60) / 100.0, '[]' FROM contacts \
         WHERE id < (SELECT max(id) FROM contacts)",
    )
    .execute(&mut conn)
    .expect("pairs");
    diesel::sql_query("VACUUM ANALYZE contact_duplicate_pairs").execute(&mut conn).expect("vacuum");
    let plan = plan_of(&mut conn, PAIRS_PAGE, |explain| {
        explain
            .bind::<BigInt, _>(1_i64)
            .bind::<diesel::sql_types::Float4, _>(0.0_f32)
            .bind::<BigInt, _>(15_i64)
            .bind::<BigInt, _>(3_000_i64)
    })
    .join("\n");
    assert!(plan.contains("Index Only Scan using contact_duplicate_pairs_best_idx"), "{plan}");
    assert!(!plan.contains("Sort"), "{plan}");
}

#[derive(QueryableByName)]
struct Queued {
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
}

/// A transaction queues a contact once however many of its rows it changes, and not at all a contact it has
/// deleted (a merge: the base's fields, a channel address and a secondary email move in one statement that also
/// deletes the mergee); a second transaction queues the contact again, since a worker may be refreshing it from
/// a snapshot taken before that change.
#[test]
fn a_transaction_queues_a_contact_once_and_never_one_it_deleted() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query(
        "WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id), \
              c AS (INSERT INTO contacts (id, account_id, name, email) \
                    SELECT 1, id, 'Base', 'base@example.com' FROM a UNION ALL \
                    SELECT 2, id, 'Mergee', 'mergee@example.com' FROM a RETURNING account_id, id), \
              i AS (INSERT INTO inboxes (account_id, name) SELECT id, 'Web' FROM a RETURNING id, account_id) \
         INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) \
         SELECT c.account_id, c.id, i.id, 'src-' || c.id FROM c, i",
    )
    .execute(&mut conn)
    .expect("setup");
    diesel::sql_query("DELETE FROM contact_duplicate_refreshes").execute(&mut conn).expect("empty the queue");
    let queued = |conn: &mut PgConnection| -> Vec<i64> {
        let rows: Vec<Queued> = diesel::sql_query("SELECT contact_id FROM contact_duplicate_refreshes ORDER BY id")
            .load(conn)
            .expect("queue");
        rows.into_iter().map(|r| r.contact_id).collect()
    };

    // the merge's moves in one statement, as the service writes them
    diesel::sql_query(
        "WITH inboxes_moved AS (UPDATE contact_inboxes SET contact_id = 1 WHERE contact_id = 2), \
              holders_moved AS (UPDATE contact_identity_holders SET contact_id = 1 WHERE contact_id = 2), \
              mergee_deleted AS (DELETE FROM contacts WHERE id = 2 RETURNING id) \
         UPDATE contacts SET name = 'Base Mergee' WHERE id = 1 AND EXISTS (SELECT FROM mergee_deleted)",
    )
    .execute(&mut conn)
    .expect("merge");
    assert_eq!(queued(&mut conn), [1], "the base once, the deleted mergee never");

    // another transaction: queued again
    diesel::sql_query("UPDATE contacts SET name = 'Base' WHERE id = 1").execute(&mut conn).expect("rename");
    assert_eq!(queued(&mut conn), [1, 1]);

    // within one transaction, a second change of the same contact adds nothing; an address that leaves a contact
    // that is still there queues that contact too
    conn.transaction(|tx| {
        diesel::sql_query("INSERT INTO contacts (id, account_id, name) SELECT 3, account_id, 'Other' FROM contacts")
            .execute(tx)?;
        diesel::sql_query("UPDATE contacts SET name = 'Other Name' WHERE id = 3").execute(tx)?;
        diesel::sql_query("UPDATE contact_inboxes SET contact_id = 3 WHERE contact_id = 1").execute(tx)?;
        diesel::sql_query("UPDATE contacts SET email = 'new@example.com' WHERE id = 1").execute(tx)
    })
    .expect("changes");
    assert_eq!(queued(&mut conn), [1, 1, 3, 1]);
}

#[derive(QueryableByName)]
struct Scans {
    #[diesel(sql_type = BigInt)]
    seq_scan: i64,
}

/// A change never reads the queue: a connection whose triggers were planned while the queue was empty (where a
/// lookup of it plans as a sequential scan, kept for the connection's life) does not scan it once it holds
/// thousands of rows (a lookup did, and merges ran at a seventh of their speed).
#[test]
fn queuing_never_scans_the_queue_however_long_it_grew() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query(
        "WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id) \
         INSERT INTO contacts (id, account_id, name) SELECT 1, id, 'Jo' FROM a",
    )
    .execute(&mut conn)
    .expect("setup");
    diesel::sql_query("TRUNCATE contact_duplicate_refreshes").execute(&mut conn).expect("empty");
    diesel::sql_query("ANALYZE contact_duplicate_refreshes").execute(&mut conn).expect("analyze");
    // past the five custom plans after which a connection may keep a generic one
    for n in 0..8 {
        diesel::sql_query(format!("UPDATE contacts SET name = 'Jo {n}' WHERE id = 1"))
            .execute(&mut conn)
            .expect("rename");
    }
    diesel::sql_query(
        "INSERT INTO contact_duplicate_refreshes (account_id, contact_id) \
         SELECT (SELECT min(id) FROM accounts), g FROM generate_series(2, 20001) g",
    )
    .execute(&mut conn)
    .expect("a long queue");
    // the connection's own counts not yet reported (earlier statements' too): read before and after the change
    let scans = |tx: &mut PgConnection| {
        diesel::sql_query("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'contact_duplicate_refreshes'")
            .get_result::<Scans>(tx)
            .map(|s| s.seq_scan)
    };
    let (before, after) = conn
        .transaction(|tx| {
            let before = scans(tx)?;
            diesel::sql_query("UPDATE contacts SET name = 'Jo Last' WHERE id = 1").execute(tx)?;
            Ok::<_, diesel::result::Error>((before, scans(tx)?))
        })
        .expect("change");
    assert_eq!(after - before, 0, "the change scanned the queue");
}
