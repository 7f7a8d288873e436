//! The schema against real PostgreSQL: migrations run up, down and up again; every foreign key is indexed;
//! children can never point into another account; a contact that still owns rows cannot be deleted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use adapters_postgres::migrations::{revert_all, revert_last, run_pending};
use adapters_postgres::testing::TestDatabase;
use diesel::sql_types::{BigInt, Text};
use diesel::{sql_query, PgConnection, QueryableByName, RunQueryDsl};

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn tables(conn: &mut PgConnection) -> Vec<String> {
    sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

const ALL_TABLES: [&str; 28] = [
    "access_tokens",
    "account_contact_counts",
    "account_users",
    "accounts",
    "contact_count_changes",
    "contact_dedupe_keys",
    "contact_duplicate_dismissals",
    "contact_duplicate_pairs",
    "contact_duplicate_refreshes",
    "contact_identities",
    "contact_identity_holders",
    "contact_inboxes",
    "contact_labels",
    "contact_merge_ledgers",
    "contact_merges",
    "contacts",
    "conversations",
    "idempotency_keys",
    "inboxes",
    "messages",
    "notes",
    "outbox_events",
    "platform_app_accounts",
    "platform_app_users",
    "platform_apps",
    "users",
    "webhook_deliveries",
    "webhooks",
];

#[test]
fn migrations_run_up_down_and_up_again() {
    let db = TestDatabase::empty();
    let applied = run_pending(db.url()).unwrap();
    assert!(!applied.is_empty());
    assert_eq!(tables(&mut db.connection()), ALL_TABLES);
    assert_eq!(run_pending(db.url()).unwrap(), Vec::<String>::new(), "a second run applies nothing");

    let reverted = revert_all(db.url()).unwrap();
    assert_eq!(reverted, applied.len());
    assert_eq!(tables(&mut db.connection()), Vec::<String>::new(), "down removes everything up created");

    assert_eq!(run_pending(db.url()).unwrap(), applied);
    assert_eq!(tables(&mut db.connection()), ALL_TABLES);
}

/// The migrations from the identities one on, newest last.
const SINCE_IDENTITIES: [&str; 11] = [
    "20261203000020",
    "20261203000030",
    "20261203000031",
    "20261203000032",
    "20261203000033",
    "20261203000040",
    "20261203000041",
    "20261203000050",
    "20261204000010",
    "20261204000020",
    "20261204000030",
];

/// Reverts the migrations from the identities one on, newest first.
fn revert_since_identities(url: &str) {
    for version in SINCE_IDENTITIES.iter().rev() {
        assert_eq!(revert_last(url).unwrap(), *version);
    }
}

/// The identities migration backfills every existing contact's email, phone number and identifier as its
/// primaries, the contact counts migration each account's count, and the duplicate keys migration each
/// contact's search keys; their downs and a second up leave the contacts as they were and backfill again.
#[test]
fn identities_and_counts_migrations_backfill_up_down_and_up() {
    let db = TestDatabase::empty();
    let applied = run_pending(db.url()).unwrap();
    assert!(applied.ends_with(&SINCE_IDENTITIES.map(str::to_owned)), "the newest migrations");
    revert_since_identities(db.url());
    let conn = &mut db.connection();
    assert!(!tables(conn).contains(&"contact_identities".to_owned()));
    try_sql(conn, "INSERT INTO accounts (id, name) VALUES (1, 'One'), (2, 'Two')").unwrap();
    try_sql(
        conn,
        "INSERT INTO contacts (id, account_id, name, email, phone_number, identifier) VALUES \
         (10, 1, 'Ada', 'ada@example.com', '+4930111', 'ada-1'), (11, 1, 'Bob', NULL, '+4930222', NULL), \
         (12, 1, 'Nobody', NULL, NULL, NULL), (20, 2, 'Ada elsewhere', 'ada@example.com', NULL, 'ada-1')",
    )
    .unwrap();
    let identities = |conn: &mut PgConnection| {
        sql_query(
            "SELECT format('%s %s %s %s %s', h.contact_id, kind, value, is_primary, source) AS name \
             FROM contact_identities i JOIN contact_identity_holders h ON h.account_id = i.account_id \
             AND h.id = i.holder_id ORDER BY h.contact_id, kind",
        )
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect::<Vec<_>>()
    };
    let expected = [
        "10 email ada@example.com t api",
        "10 identifier ada-1 t api",
        "10 phone_number +4930111 t api",
        "11 phone_number +4930222 t api",
        "20 email ada@example.com t api",
        "20 identifier ada-1 t api",
    ];
    let counts = |conn: &mut PgConnection| {
        sql_query("SELECT format('%s %s', account_id, contacts) AS name FROM account_contact_counts ORDER BY 1")
            .load::<Name>(conn)
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect::<Vec<_>>()
    };
    let keys = |conn: &mut PgConnection| {
        sql_query(
            "SELECT format('%s %s %s', contact_id, kind, key) AS name FROM contact_dedupe_keys \
             ORDER BY contact_id, kind, key",
        )
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect::<Vec<_>>()
    };
    assert_eq!(run_pending(db.url()).unwrap(), SINCE_IDENTITIES);
    assert_eq!(identities(conn), expected);
    assert_eq!(counts(conn), ["1 3", "2 1"]);
    let expected_keys = [
        "10 domain example.com",
        "10 local ada",
        "10 name ada",
        "11 name bob",
        "12 name nobody",
        "20 domain example.com",
        "20 local ada",
        "20 name adaelsewhere",
        "20 name aelsewhere",
        "20 name elsewhereada",
    ];
    assert_eq!(keys(conn), expected_keys);
    // the trigger keeps them in step from now on
    try_sql(conn, "UPDATE contacts SET email = 'bob@example.com' WHERE id = 11").unwrap();
    assert!(identities(conn).contains(&"11 email bob@example.com t api".to_owned()));

    revert_since_identities(db.url());
    assert!(!tables(conn).contains(&"contact_identities".to_owned()));
    assert!(!tables(conn).contains(&"account_contact_counts".to_owned()));
    let n = sql_query("SELECT count(*) AS n FROM contacts").get_result::<N>(conn).unwrap().n;
    assert_eq!(n, 4, "down keeps every contact");
    try_sql(conn, "INSERT INTO contacts (id, account_id, name) VALUES (13, 1, 'No trigger now')").unwrap();
    assert_eq!(run_pending(db.url()).unwrap(), SINCE_IDENTITIES);
    assert_eq!(counts(conn), ["1 4", "2 1"]);
    let mut keys_again = expected_keys.to_vec();
    keys_again.splice(3..4, ["11 domain example.com", "11 local bob", "11 name bob"]);
    keys_again.splice(7..7, ["13 name nnow", "13 name nonow", "13 name notriggernow", "13 name nowno"]);
    assert_eq!(keys(conn), keys_again, "the second up computes the keys of today's values");
    let mut again = expected.to_vec();
    again.insert(3, "11 email bob@example.com t api");
    assert_eq!(identities(conn), again);
}

#[test]
fn every_foreign_key_is_indexed() {
    let db = TestDatabase::new();
    // A foreign key is covered when some index starts with exactly its columns (in any order).
    let unindexed = sql_query(
        "SELECT c.conname::text AS name FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace AND NOT EXISTS ( \
           SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid \
             AND (SELECT array_agg(x ORDER BY x) FROM unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) x) \
               = (SELECT array_agg(x ORDER BY x) FROM unnest(c.conkey) x)) \
         ORDER BY 1",
    )
    .load::<Name>(&mut db.connection())
    .unwrap();
    assert!(unindexed.is_empty(), "foreign keys without an index: {unindexed:?}");
}

#[test]
fn every_trigram_index_keeps_its_pending_list_short() {
    let db = TestDatabase::new();
    let gin = sql_query(
        "SELECT ic.relname::text || ' ' || coalesce(array_to_string(ic.reloptions, ','), '') AS name \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
         WHERE am.amname = 'gin' AND ic.relnamespace = 'public'::regnamespace ORDER BY 1",
    )
    .load::<Name>(&mut db.connection())
    .unwrap();
    let gin: Vec<&str> = gin.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        gin,
        [
            "contact_identities_secondary_trgm_idx gin_pending_list_limit=512",
            "contacts_search_trgm_idx gin_pending_list_limit=512",
        ]
    );
}

#[test]
fn every_tenant_unique_index_includes_account_id() {
    let db = TestDatabase::new();
    let offending = sql_query(
        "SELECT ic.relname::text AS name FROM pg_index i \
         JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
         WHERE i.indisunique AND NOT i.indisprimary AND t.relnamespace = 'public'::regnamespace \
           AND t.relname NOT IN ('users', 'platform_apps', 'platform_app_users', 'access_tokens', \
                                 '__diesel_schema_migrations') \
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'account_id' \
                           AND a.attnum = ANY (i.indkey::int2[])) \
         ORDER BY 1",
    )
    .load::<Name>(&mut db.connection())
    .unwrap();
    assert!(offending.is_empty(), "unique indexes without account_id: {offending:?}");
}

fn try_sql(conn: &mut PgConnection, statement: &str) -> Result<usize, String> {
    sql_query(statement).execute(conn).map_err(|e| e.to_string())
}

#[test]
fn rows_cannot_cross_accounts_or_be_orphaned() {
    let db = TestDatabase::new();
    let conn = &mut db.connection();
    try_sql(conn, "INSERT INTO accounts (id, name) VALUES (1, 'One'), (2, 'Two')").unwrap();
    try_sql(conn, "INSERT INTO contacts (id, account_id, name) VALUES (10, 1, 'In one')").unwrap();
    try_sql(conn, "INSERT INTO inboxes (id, account_id, name) VALUES (20, 2, 'In two')").unwrap();
    let cross = try_sql(
        conn,
        "INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) VALUES (1, 10, 20, 's')",
    );
    assert!(
        cross.unwrap_err().contains("contact_inboxes_inbox_fkey"),
        "an inbox of account 2 for a contact of account 1"
    );
    let orphan = try_sql(conn, "INSERT INTO notes (account_id, contact_id, content) VALUES (1, 999, 'x')");
    assert!(orphan.unwrap_err().contains("notes_contact_fkey"));

    try_sql(conn, "INSERT INTO notes (account_id, contact_id, content) VALUES (1, 10, 'kept')").unwrap();
    let delete = try_sql(conn, "DELETE FROM contacts WHERE id = 10");
    assert!(delete.unwrap_err().contains("notes_contact_fkey"), "no cascade: a contact with rows cannot vanish");
    let notes = sql_query("SELECT count(*) AS n FROM notes").get_result::<N>(conn).unwrap().n;
    assert_eq!(notes, 1);
}

/// The holders migration's down puts every identity of a holder merged away back on the contact holding it, a
/// secondary unless it is that contact's own value (as merges left them before holders), and a merge recorded
/// with holders keeps its undo through the ids (and sources) of the rows its holders held; a second up gives
/// each contact with identities its holder again.
#[test]
fn the_holders_migration_down_puts_merged_identities_on_their_contact() {
    let db = TestDatabase::empty();
    run_pending(db.url()).unwrap();
    let conn = &mut db.connection();
    try_sql(conn, "INSERT INTO accounts (id, name) VALUES (1, 'One')").unwrap();
    try_sql(
        conn,
        "INSERT INTO contacts (id, account_id, name, email, phone_number) VALUES \
         (1, 1, 'Base', 'b@x.example', NULL), (2, 1, 'Mergee', 'm@x.example', '+4930111')",
    )
    .unwrap();
    // a merge as the service writes it: the mergee's holder re-pointed, the mergee deleted, the base taking its
    // phone number; the record and its ledger
    try_sql(
        conn,
        "WITH h AS (UPDATE contact_identity_holders SET contact_id = 1 WHERE id = 2 RETURNING id), \
              d AS (DELETE FROM contacts WHERE id = 2 AND EXISTS (SELECT FROM h) RETURNING id) \
         UPDATE contacts SET phone_number = '+4930111', merged_identities = 'm@x.example' || E'\\x1f' || '+4930111' \
         WHERE id = 1 AND EXISTS (SELECT FROM d)",
    )
    .unwrap();
    try_sql(
        conn,
        "WITH m AS (INSERT INTO contact_merges (account_id, base_contact_id, mergee_contact_id, mergee_snapshot, \
                        moved_conversations, moved_messages, moved_contact_inboxes, moved_notes, moved_labels) \
                    VALUES (1, 1, 2, '{}', 0, 0, 0, 0, 0) RETURNING id) \
         INSERT INTO contact_merge_ledgers (merge_id, moved_conversation_ids, moved_message_ids, \
             moved_contact_inbox_ids, moved_note_ids, labels_added, mergee_labels, base_snapshot, written, \
             moved_identity_ids, moved_identity_sources, moved_holder_ids) \
         SELECT id, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{2}' FROM m",
    )
    .unwrap();
    assert_eq!(revert_last(db.url()).unwrap(), "20261204000030");
    let names = |conn: &mut PgConnection, query: &str| {
        sql_query(query).load::<Name>(conn).unwrap().into_iter().map(|n| n.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            conn,
            "SELECT format('%s %s %s %s %s', contact_id, kind, value, is_primary, source) AS name \
             FROM contact_identities ORDER BY id"
        ),
        ["1 email b@x.example t api", "1 email m@x.example f merge", "1 phone_number +4930111 t merge"],
    );
    assert_eq!(
        names(
            conn,
            "SELECT format('%s %s', l.moved_identity_ids = ARRAY(SELECT id FROM contact_identities \
                    WHERE value IN ('m@x.example', '+4930111') ORDER BY id), l.moved_identity_sources) AS name \
             FROM contact_merge_ledgers l"
        ),
        ["t {api,api}"],
        "the ledger names the rows the holder held, with the sources they had"
    );
    assert_eq!(
        names(
            conn,
            "SELECT format('%s %s', (SELECT count(*) FROM information_schema.columns \
                    WHERE table_name = 'contacts' AND column_name = 'merged_identities'), \
                    (SELECT indexdef NOT LIKE '%merged_identities%' FROM pg_indexes \
                     WHERE indexname = 'contacts_search_trgm_idx')) AS name"
        ),
        ["0 t"],
        "the merged text goes, and the search's index is back as it was"
    );
    assert_eq!(run_pending(db.url()).unwrap(), ["20261204000030"]);
    assert_eq!(
        names(conn, "SELECT coalesce(merged_identities, 'none') AS name FROM contacts"),
        ["none"],
        "every identity is the contact's own again"
    );
    assert_eq!(
        names(
            conn,
            "SELECT format('%s %s %s', h.id, h.contact_id, count(i.id)) AS name FROM contact_identity_holders h \
             JOIN contact_identities i ON i.holder_id = h.id GROUP BY h.id, h.contact_id ORDER BY h.id"
        ),
        ["1 1 3"]
    );
}
