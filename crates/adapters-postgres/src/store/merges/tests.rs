//! The merge store against PostgreSQL: what the merge's statement and the identities trigger write.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use application::ports::ContactStore;
use application::snapshot::completed_merge_event;
use diesel::sql_types::{Jsonb, Text, Timestamptz};
use domain::IdentityKind;
use serde_json::json;

use super::*;
use crate::testing::TestDatabase;

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = BigInt)]
    updated: i64,
    #[diesel(sql_type = BigInt)]
    inserted: i64,
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Bool)]
    is_primary: bool,
    #[diesel(sql_type = Text)]
    source: String,
}

/// A fresh database with one account, and what `rest` inserts: the rest of a statement that begins with
/// `WITH a AS (INSERT INTO accounts …)` (the account's id is `a.id`). Answers the database and the account.
fn pair(contacts: &str) -> (TestDatabase, AccountId) {
    let db = TestDatabase::new();
    let mut setup = db.connection();
    diesel::sql_query(format!("WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id) {contacts}"))
        .execute(&mut setup)
        .expect("contacts");
    let account: i64 =
        diesel::select(diesel::dsl::sql::<BigInt>("(SELECT id FROM accounts)")).get_result(&mut setup).unwrap();
    (db, AccountId::new(account))
}

/// The base's identities as (kind, value, primary, source), by kind and value: the rows of the holders it holds,
/// with the flag each row has (a primary of its holder's first contact) and the source it was written with.
fn held_by_base(tx: &mut PgSession) -> Vec<(String, String, bool, String)> {
    let held: Vec<Held> = diesel::sql_query(
        "SELECT i.kind, i.value, i.is_primary, i.source FROM contact_identities i \
         JOIN contact_identity_holders h ON h.account_id = i.account_id AND h.id = i.holder_id \
         WHERE h.contact_id = 1 ORDER BY kind, value",
    )
    .load(tx.conn())
    .unwrap();
    held.into_iter().map(|h| (h.kind, h.value, h.is_primary, h.source)).collect()
}

/// The base's identities as the API shows them (primary: the base's own value; source: `merge` for those of a
/// holder merged away), by kind and value.
fn shown_for_base(tx: &mut PgSession, account: AccountId) -> Vec<(String, String, bool, String)> {
    let mut shown: Vec<_> = application::ports::IdentityStore::identities(tx, account, ContactId::new(1))
        .unwrap()
        .into_iter()
        .map(|i| (i.kind.as_str().to_owned(), i.value, i.primary, i.source.as_str().to_owned()))
        .collect();
    shown.sort();
    shown
}

/// Merges contact 2 into contact 1 with [`MergeStore::write_merge`], the base's attributes becoming `after`.
fn merge(
    tx: &mut PgSession,
    account: AccountId,
    after: &ContactAttributes,
    primaries: &[IdentityKind],
) -> MergeWritten {
    tx.write_merge(&MergeWrite {
        account_id: account,
        actor: None,
        base_contact_id: ContactId::new(1),
        mergee_contact_id: ContactId::new(2),
        attributes: after,
        primaries,
        mergee_snapshot: json!({"id": 2}),
        base_snapshot: json!({"id": 1}),
        written: json!({"name": {"before": "Base", "after": after.name}}),
        event_type: "contact.merged",
        event: json!({"event": "contact_merged", "base_contact_id": 1}),
    })
    .unwrap()
}

/// The expected form of [`held_by_base`].
fn rows(expected: &[(&str, &str, bool, &str)]) -> Vec<(String, String, bool, String)> {
    expected.iter().map(|&(k, v, p, s)| (k.to_owned(), v.to_owned(), p, s.to_owned())).collect()
}

/// A merge writes no identity: it re-points the mergee's holder (one row, whatever it holds), and when the base's
/// fields are then written the identities trigger finds the phone number and identifier the base takes among
/// them instead of rewriting them (each rewrite is a new row version in every index of the table) or inserting
/// new ones. The base then shows them as its primaries, and the mergee's email as a secondary from the merge;
/// the rows themselves are as they were.
#[test]
fn a_merge_writes_no_identity() {
    let (db, account) = pair(
        "INSERT INTO contacts (id, account_id, name, email, phone_number, identifier) \
         SELECT 1, id, 'Base', 'base@example.com', NULL, NULL FROM a UNION ALL \
         SELECT 2, id, 'Mergee', 'mergee@example.com', '+4915112345678', 'ext-2' FROM a",
    );
    let mergee = ContactId::new(2);

    let pg = db.pool(2);
    let mut tx = PgSession::begin(pg.get().unwrap()).unwrap();
    let base_attributes =
        ContactAttributes { name: "Base".into(), email: Some("base@example.com".into()), ..Default::default() };
    let merged = ContactAttributes {
        phone_number: Some("+4915112345678".into()),
        identifier: Some("ext-2".into()),
        ..base_attributes.clone()
    };
    let primaries = IdentityKind::taken_by_merge(&base_attributes, &merged);
    let written = merge(&mut tx, account, &merged, &primaries);
    assert_eq!(written.absorbed.rows.identity_holder_ids, [2], "the mergee's holder re-pointed");
    // the mergee's unique phone number and identifier moved over within the statement that deleted the mergee
    assert_eq!(written.contact.attributes, merged);
    assert!(tx.find_contacts(account, &[mergee]).unwrap().is_empty());

    // this transaction's own row counts (pg_stat_xact_*: not yet committed, not yet reported)
    let written: Written = diesel::sql_query(
        "SELECT n_tup_upd AS updated, n_tup_ins AS inserted FROM pg_stat_xact_user_tables \
         WHERE relname = 'contact_identities'",
    )
    .get_result(tx.conn())
    .unwrap();
    assert_eq!((written.updated, written.inserted), (0, 0), "no identity moved, rewritten or created");
    assert_eq!(
        held_by_base(&mut tx),
        rows(&[
            ("email", "base@example.com", true, "api"),
            ("email", "mergee@example.com", true, "api"),
            ("identifier", "ext-2", true, "api"),
            ("phone_number", "+4915112345678", true, "api"),
        ])
    );
    assert_eq!(
        shown_for_base(&mut tx, account),
        rows(&[
            ("email", "base@example.com", true, "api"),
            ("email", "mergee@example.com", false, "merge"),
            ("identifier", "ext-2", true, "merge"),
            ("phone_number", "+4915112345678", true, "merge"),
        ])
    );
}

/// A base update bringing one kind whose primary is already in place (as after a merge moved the mergee's
/// primary in) beside one that is not (an email written where there was none): the trigger writes the email's
/// primary and leaves the kind in place alone; a value replaced later is still demoted to a secondary.
#[test]
fn the_trigger_writes_a_kind_not_in_place_beside_one_that_is() {
    let (db, _) = pair(
        ", c AS (INSERT INTO contacts (id, account_id, name) SELECT 1, id, 'Base' FROM a RETURNING account_id), \
           h AS (INSERT INTO contact_identity_holders (account_id, id, contact_id) SELECT account_id, 1, 1 FROM c) \
         INSERT INTO contact_identities (account_id, holder_id, kind, value, is_primary, source) \
         SELECT account_id, 1, 'phone_number', '+4930111', TRUE, 'merge' FROM c",
    );
    let pg = db.pool(2);
    let mut tx = PgSession::begin(pg.get().unwrap()).unwrap();
    diesel::sql_query("UPDATE contacts SET phone_number = '+4930111', email = 'Base@Example.com' WHERE id = 1")
        .execute(tx.conn())
        .unwrap();
    let written: Written = diesel::sql_query(
        "SELECT n_tup_upd AS updated, n_tup_ins AS inserted FROM pg_stat_xact_user_tables \
         WHERE relname = 'contact_identities'",
    )
    .get_result(tx.conn())
    .unwrap();
    assert_eq!((written.updated, written.inserted), (0, 1), "the email inserted, the phone number left alone");
    assert_eq!(
        held_by_base(&mut tx),
        rows(&[("email", "Base@Example.com", true, "api"), ("phone_number", "+4930111", true, "merge")])
    );
    // and a value replaced is still demoted to a secondary
    diesel::sql_query("UPDATE contacts SET phone_number = '+4930222' WHERE id = 1").execute(tx.conn()).unwrap();
    assert_eq!(
        held_by_base(&mut tx),
        rows(&[
            ("email", "Base@Example.com", true, "api"),
            ("phone_number", "+4930111", false, "merge"),
            ("phone_number", "+4930222", true, "api"),
        ])
    );
}

/// When the caller keeps the base's own value of a kind the base already had, the mergee's identity of that kind
/// is a secondary of the base, and a value the merge takes over from the mergee is the base's primary (its own
/// old one demoted by the trigger, as before).
#[test]
fn a_base_that_had_the_kind_keeps_its_primary() {
    let (db, account) = pair(
        "INSERT INTO contacts (id, account_id, name, email, phone_number) \
         SELECT 1, id, 'Base', 'base@example.com', '+4930111' FROM a UNION ALL \
         SELECT 2, id, 'Mergee', 'mergee@example.com', '+4930222' FROM a",
    );
    let pg = db.pool(2);
    let mut tx = PgSession::begin(pg.get().unwrap()).unwrap();
    let base_attributes = ContactAttributes {
        name: "Base".into(),
        email: Some("base@example.com".into()),
        phone_number: Some("+4930111".into()),
        ..Default::default()
    };
    // the caller chose the mergee's email: the base had one, so it moves as a secondary and is promoted after
    let merged = ContactAttributes { email: Some("mergee@example.com".into()), ..base_attributes.clone() };
    let primaries = IdentityKind::taken_by_merge(&base_attributes, &merged);
    assert!(primaries.is_empty());
    merge(&mut tx, account, &merged, &primaries);
    assert_eq!(
        shown_for_base(&mut tx, account),
        rows(&[
            ("email", "base@example.com", false, "api"),
            ("email", "mergee@example.com", true, "merge"),
            ("phone_number", "+4930111", true, "api"),
            ("phone_number", "+4930222", false, "merge"),
        ])
    );
}

/// The merge's statement answers the base's channel addresses after the move, its own and the mergee's, oldest
/// first, with their inboxes: the merge's answer needs no statement of its own for them.
#[test]
fn absorbing_answers_the_base_inboxes_after_the_move() {
    let (db, account) = pair(
        ", c AS (INSERT INTO contacts (id, account_id, name) SELECT 1, id, 'Base' FROM a UNION ALL \
                 SELECT 2, id, 'Mergee' FROM a UNION ALL SELECT 3, id, 'Other' FROM a RETURNING id, account_id), \
           i AS (INSERT INTO inboxes (account_id, name, channel_type, provider) \
                 SELECT id, 'WhatsApp', 'Channel::Whatsapp', 'twilio' FROM a RETURNING id, account_id) \
         INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) \
         SELECT c.account_id, c.id, i.id, 'src-' || c.id || '-' || g FROM c, i, generate_series(1, c.id) g \
         ORDER BY c.id DESC, g",
    );
    let pg = db.pool(2);
    let mut tx = PgSession::begin(pg.get().unwrap()).unwrap();
    let absorbed =
        merge(&mut tx, account, &ContactAttributes { name: "Base".into(), ..Default::default() }, &[]).absorbed;
    assert_eq!(absorbed.moved.contact_inboxes, 2);
    // inserted newest contact first, so the base's own address (src-1-1) is the youngest
    let sources: Vec<&str> = absorbed.base_inboxes.iter().map(|ci| ci.source_id.as_str()).collect();
    assert_eq!(sources, ["src-2-1", "src-2-2", "src-1-1"]);
    assert!(absorbed.base_inboxes.iter().all(|ci| ci.inbox.name == "WhatsApp"
        && ci.inbox.channel_type == "Channel::Whatsapp"
        && ci.inbox.provider.as_deref() == Some("twilio")));
    // the store's own read agrees
    assert_eq!(tx.contact_inboxes(account, ContactId::new(1)).unwrap(), absorbed.base_inboxes);
}

#[derive(QueryableByName)]
struct Recorded {
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Jsonb)]
    written: serde_json::Value,
    #[diesel(sql_type = Array<BigInt>)]
    moved_note_ids: Vec<i64>,
    #[diesel(sql_type = BigInt)]
    moved_notes: i64,
}

/// The record, its ledger and the outbox event are written by the merge's one statement: the event is the one the
/// service would complete itself ([`completed_merge_event`]: the record's id and time, what moved), the ledger
/// holds the ids the statement moved and what the caller gave it.
#[test]
fn the_merge_statement_writes_the_record_its_ledger_and_the_completed_event() {
    let (db, account) = pair(
        ", c AS (INSERT INTO contacts (id, account_id, name) SELECT 1, id, 'Base' FROM a UNION ALL \
                 SELECT 2, id, 'Mergee' FROM a RETURNING id, account_id), \
           u AS (INSERT INTO users (name, email) VALUES ('Agent', 'agent@example.com') RETURNING id) \
         INSERT INTO notes (account_id, contact_id, user_id, content) \
         SELECT c.account_id, c.id, u.id, 'note ' || g FROM c, u, generate_series(1, 2) g",
    );
    let pg = db.pool(2);
    let mut tx = PgSession::begin(pg.get().unwrap()).unwrap();
    let written =
        merge(&mut tx, account, &ContactAttributes { name: "Base and Mergee".into(), ..Default::default() }, &[]);
    assert_eq!(written.absorbed.moved.notes, 2);
    assert_eq!(written.contact.attributes.name, "Base and Mergee");

    let recorded: Recorded = diesel::sql_query(
        "SELECT e.payload, l.written, l.moved_note_ids, m.moved_notes \
         FROM contact_merges m JOIN contact_merge_ledgers l ON l.merge_id = m.id, outbox_events e \
         WHERE m.id = $1 AND e.event_type = 'contact.merged'",
    )
    .bind::<BigInt, _>(written.stored.id)
    .get_result(tx.conn())
    .unwrap();
    let expected = completed_merge_event(
        &json!({"event": "contact_merged", "base_contact_id": 1}),
        written.stored.id,
        written.stored.created_at,
        &written.absorbed.moved,
    );
    assert_eq!(recorded.payload, expected);
    assert_eq!(recorded.written, json!({"name": {"before": "Base", "after": "Base and Mergee"}}));
    assert_eq!(recorded.moved_note_ids, written.absorbed.rows.note_ids);
    assert_eq!(recorded.moved_notes, 2);
}

#[derive(QueryableByName)]
struct Formatted {
    #[diesel(sql_type = Text)]
    text: String,
}

/// The event's `merged_at` is written in SQL the way chrono's `to_rfc3339` writes the record's time elsewhere:
/// no fraction, three digits or six, whichever is exact.
#[test]
fn the_event_time_reads_as_chrono_writes_it() {
    use chrono::TimeZone;
    let db = TestDatabase::new();
    let mut conn = db.connection();
    for nanos in [0, 120_000_000, 123_456_000, 100_000, 999_999_000] {
        let at = Utc.timestamp_opt(1_764_000_000, nanos).single().unwrap();
        let formatted: Formatted =
            diesel::sql_query(concat!("SELECT ", write::rfc3339!("t"), " AS text FROM (SELECT $1 AS t) AS v"))
                .bind::<Timestamptz, _>(at)
                .get_result(&mut conn)
                .unwrap();
        assert_eq!(formatted.text, at.to_rfc3339(), "{nanos} ns");
    }
}
