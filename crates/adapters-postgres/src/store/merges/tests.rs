//! The merge store against PostgreSQL: what the moving statement and the identities trigger write.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use application::ports::ContactStore;
use diesel::sql_types::Text;

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

/// The base's identities as (kind, value, primary, source), by kind and value.
fn held_by_base(tx: &mut PgSession) -> Vec<(String, String, bool, String)> {
    let held: Vec<Held> = diesel::sql_query(
        "SELECT kind, value, is_primary, source FROM contact_identities WHERE contact_id = 1 ORDER BY kind, value",
    )
    .load(tx.conn())
    .unwrap();
    held.into_iter().map(|h| (h.kind, h.value, h.is_primary, h.source)).collect()
}

/// The expected form of [`held_by_base`].
fn rows(expected: &[(&str, &str, bool, &str)]) -> Vec<(String, String, bool, String)> {
    expected.iter().map(|&(k, v, p, s)| (k.to_owned(), v.to_owned(), p, s.to_owned())).collect()
}

/// A merge moves the mergee's identities once each: the phone number and identifier the base lacked arrive as
/// its primaries, the email as a secondary, and when the base's fields are then written the identities trigger
/// finds them in place instead of rewriting them (each rewrite is a new row version in every index of the
/// table) or inserting new ones.
#[test]
fn a_merge_writes_each_moved_identity_once() {
    let (db, account) = pair(
        "INSERT INTO contacts (id, account_id, name, email, phone_number, identifier) \
         SELECT 1, id, 'Base', 'base@example.com', NULL, NULL FROM a UNION ALL \
         SELECT 2, id, 'Mergee', 'mergee@example.com', '+4915112345678', 'ext-2' FROM a",
    );
    let (base, mergee) = (ContactId::new(1), ContactId::new(2));

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
    let absorbed = tx.absorb_contact(account, mergee, base, &primaries).unwrap();
    assert_eq!(absorbed.rows.identity_ids.len(), 3, "the mergee's three identities moved");
    tx.update_contact_attributes(account, base, &merged).unwrap();

    // this transaction's own row counts (pg_stat_xact_*: not yet committed, not yet reported)
    let written: Written = diesel::sql_query(
        "SELECT n_tup_upd AS updated, n_tup_ins AS inserted FROM pg_stat_xact_user_tables \
         WHERE relname = 'contact_identities'",
    )
    .get_result(tx.conn())
    .unwrap();
    assert_eq!((written.updated, written.inserted), (3, 0), "three moves, no rewrite, nothing created");
    assert_eq!(
        held_by_base(&mut tx),
        rows(&[
            ("email", "base@example.com", true, "api"),
            ("email", "mergee@example.com", false, "merge"),
            ("identifier", "ext-2", true, "merge"),
            ("phone_number", "+4915112345678", true, "merge"),
        ])
    );
}

/// When the caller keeps the base's own value of a kind the base already had, the mergee's identity of that kind
/// moves as a secondary, and a value the merge takes over from a secondary is promoted by the trigger as before.
#[test]
fn a_base_that_had_the_kind_keeps_its_primary() {
    let (db, account) = pair(
        "INSERT INTO contacts (id, account_id, name, email, phone_number) \
         SELECT 1, id, 'Base', 'base@example.com', '+4930111' FROM a UNION ALL \
         SELECT 2, id, 'Mergee', 'mergee@example.com', '+4930222' FROM a",
    );
    let (base, mergee) = (ContactId::new(1), ContactId::new(2));

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
    tx.absorb_contact(account, mergee, base, &primaries).unwrap();
    tx.update_contact_attributes(account, base, &merged).unwrap();
    assert_eq!(
        held_by_base(&mut tx),
        rows(&[
            ("email", "base@example.com", false, "api"),
            ("email", "mergee@example.com", true, "merge"),
            ("phone_number", "+4930111", true, "api"),
            ("phone_number", "+4930222", false, "merge"),
        ])
    );
}

/// The moving statement answers the base's channel addresses after the move, its own and the mergee's, oldest
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
    let absorbed = tx.absorb_contact(account, ContactId::new(2), ContactId::new(1), &[]).unwrap();
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
