//! Searches of long terms, looked up in the trigram index by their rarest pieces (`crate::trigram_shares`),
//! against PostgreSQL: the same answers as the whole term, and the sample that chooses the pieces.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::thread;
use std::time::{Duration, Instant};

use application::ports::{ContactQuery, ContactSort, ContactStore};
use application::Database;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use domain::AccountId;

use crate::store::PgSession;
use crate::testing::TestDatabase;
use crate::trigram_shares::probes;
use crate::PgDatabase;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn insert(conn: &mut PgConnection, account: i64, name: &str, email: Option<&str>, phone: Option<&str>) -> i64 {
    diesel::sql_query(
        "INSERT INTO contacts (account_id, name, email, phone_number) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind::<BigInt, _>(account)
    .bind::<Text, _>(name)
    .bind::<diesel::sql_types::Nullable<Text>, _>(email)
    .bind::<diesel::sql_types::Nullable<Text>, _>(phone)
    .get_result::<Id>(conn)
    .expect("contact")
    .id
}

fn found(session: &mut dyn ContactStore, account: i64, term: &str) -> Vec<i64> {
    let query = ContactQuery { search: Some(term.to_owned()), sort: ContactSort::default(), offset: 0, limit: 100 };
    let mut ids: Vec<i64> = session
        .contacts_page(AccountId::new(account), &query)
        .expect("search")
        .contacts
        .iter()
        .map(|c| c.id.get())
        .collect();
    ids.sort_unstable();
    ids
}

/// A long term looked up by its rarest pieces finds exactly what the whole term finds: the rows holding
/// the pieces but not the term are tested out, a term spanning two columns still matches nothing, case is
/// ignored, secondary identities and other accounts are as before.
#[test]
fn a_term_looked_up_by_its_pieces_finds_what_the_whole_term_finds() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query("INSERT INTO accounts (name) VALUES ('a'), ('b')").execute(&mut conn).expect("accounts");
    let accounts: Vec<i64> = diesel::sql_query("SELECT id FROM accounts ORDER BY id")
        .load::<Id>(&mut conn)
        .expect("ids")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let (a, b) = (accounts[0], accounts[1]);
    // many contacts of the same shape, so that the sample finds the common pieces common
    diesel::sql_query(
        "INSERT INTO contacts (account_id, name, email, phone_number) \
         SELECT $1, 'Person ' || k, 'person' || (500000 + k) || '@company' || (k % 10) || '.example', \
                '+1777' || lpad((500000 + k)::text, 8, '0') \
         FROM generate_series(10, 600) k",
    )
    .bind::<BigInt, _>(a)
    .execute(&mut conn)
    .expect("population");
    let owner = insert(&mut conn, a, "Owner", Some("person500007@company7.example"), Some("+17775000007"));
    let in_name = insert(&mut conn, a, "Re: PERSON500007@company7.example", None, None);
    // holds every piece of the email, but across two columns
    let across = insert(&mut conn, a, "person500007", Some("x@company7.example"), None);
    let other_account = insert(&mut conn, b, "Owner", Some("person500007@company7.example"), None);
    let by_secondary = insert(&mut conn, a, "Secondary", Some("someone@else.example"), None);
    diesel::sql_query(
        "INSERT INTO contact_identities (account_id, holder_id, kind, value) \
         VALUES ($1, $2, 'email', 'person500009@company9.example')",
    )
    .bind::<BigInt, _>(a)
    .bind::<BigInt, _>(by_secondary)
    .execute(&mut conn)
    .expect("secondary identity");
    diesel::sql_query("ANALYZE contacts").execute(&mut conn).expect("analyze");

    let pg: PgDatabase = db.pool(2);
    pg.sample_search_text().expect("sample");
    let shares = pg.search_shares().expect("a sample");
    let cases: [(&str, Vec<i64>); 6] = [
        ("person500007@company7.example", vec![owner, in_name]),
        ("PERSON500007@Company7.Example", vec![owner, in_name]),
        ("+17775000007", vec![owner]),
        ("person500009@company9.example", vec![by_secondary]),
        ("500007\u{1f}x@company7", vec![]),
        ("nobody500007@company7.example", vec![]),
    ];
    for (term, expected) in cases {
        assert!(!probes(term, &shares).is_empty(), "{term} is looked up by pieces");
        let mut probed = pg.begin().expect("session");
        assert_eq!(found(probed.as_mut(), a, term), expected, "{term}, by pieces");
        // the same search looked up whole (a session without the sample)
        let mut whole = PgSession::autocommit(pg.pool().get().expect("connection"));
        assert_eq!(found(&mut whole, a, term), expected, "{term}, whole");
    }
    assert!(!found(pg.begin().expect("session").as_mut(), a, "person500007").contains(&other_account));
    assert!(found(pg.begin().expect("session").as_mut(), a, "person500007").contains(&across));
    assert_eq!(found(pg.begin().expect("session").as_mut(), b, "person500007@company7.example"), [other_account]);
}

/// The first search of a process starts the sample on a thread of its own and is answered meanwhile (the
/// term looked up whole); the searches after it have the sample.
#[test]
fn the_first_search_starts_a_sample_in_the_background() {
    let db = TestDatabase::new();
    let mut conn = db.connection();
    diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
    let account = diesel::sql_query("SELECT min(id) AS id FROM accounts").get_result::<Id>(&mut conn).expect("id").id;
    let owner = insert(&mut conn, account, "Owner", Some("owner@company.example"), None);
    let pg: PgDatabase = db.pool(2);
    assert!(pg.search_shares().is_none(), "no sample before the first search");
    let mut session = pg.begin().expect("session");
    assert_eq!(found(session.as_mut(), account, "owner@company.example"), [owner]);
    drop(session);
    let deadline = Instant::now() + Duration::from_secs(10);
    let shares = loop {
        if let Some(shares) = pg.search_shares() {
            break shares;
        }
        assert!(Instant::now() < deadline, "the sample never came");
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(shares.rows(), 1);
    assert_eq!(shares.holders(b"own"), 1);
    assert_eq!(shares.holders(b"zzz"), 0);
}
