//! The kept contact counts (migration `contact_counts`): folding the appended changes into each account's total,
//! which `coalesce serve` does about once a second (`server::counts_worker`). Reading a count is part of the
//! contact list (`store::contacts`); nothing else writes these tables but the triggers and this fold.

use application::StoreError;
use diesel::RunQueryDsl;

use super::Count;
use crate::errors::StoreResult;
use crate::prepared::Prepared;
use crate::PgDatabase;

/// One statement, so that the changes it deletes and the totals it adds commit together: a count read at any
/// moment sees either both or neither. Concurrent folds (several `coalesce serve`) are kept apart by a
/// transaction-scoped advisory lock (taken or skipped, never waited for), so they never deadlock on the totals.
/// Changes of accounts that no longer exist are dropped with the rest.
const FOLD: &str = "WITH turn AS (SELECT pg_try_advisory_xact_lock(hashtext('coalesce.contact_counts')) AS mine), \
     folded AS (DELETE FROM contact_count_changes WHERE (SELECT mine FROM turn) RETURNING account_id, delta), \
     sums AS (SELECT account_id, sum(delta)::bigint AS delta FROM folded \
              WHERE EXISTS (SELECT 1 FROM accounts WHERE accounts.id = folded.account_id) GROUP BY account_id), \
     added AS (INSERT INTO account_contact_counts (account_id, contacts) SELECT account_id, delta FROM sums \
               ON CONFLICT (account_id) DO UPDATE SET contacts = account_contact_counts.contacts + EXCLUDED.contacts \
               RETURNING 1) \
     SELECT (SELECT count(*) FROM folded) AS n";

impl PgDatabase {
    /// Folds the pending contact-count changes into the accounts' totals; returns how many changes it folded
    /// (0 when another process was folding at the same moment).
    ///
    /// # Errors
    /// `Unavailable` when no connection comes in time; storage failures.
    pub fn fold_contact_counts(&self) -> Result<u64, StoreError> {
        let mut conn = self.get()?;
        let folded: Count = Prepared(diesel::sql_query(FOLD)).get_result(&mut **conn).store()?;
        Ok(u64::try_from(folded.n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use application::ports::{ContactQuery, ContactSort, Database, SEARCH_COUNT_CEILING};
    use diesel::sql_types::BigInt;
    use diesel::{Connection, PgConnection};
    use domain::AccountId;

    use super::*;
    use crate::testing::TestDatabase;

    fn exact(conn: &mut PgConnection, account: i64) -> i64 {
        diesel::sql_query("SELECT count(*) AS n FROM contacts WHERE account_id = $1")
            .bind::<BigInt, _>(account)
            .get_result::<Count>(conn)
            .expect("count")
            .n
    }

    fn pending(conn: &mut PgConnection) -> i64 {
        diesel::sql_query("SELECT count(*) AS n FROM contact_count_changes").get_result::<Count>(conn).expect("n").n
    }

    /// The count a list page reports, through the store.
    fn listed(db: &PgDatabase, account: i64, offset: u64) -> u64 {
        let query = ContactQuery { search: None, sort: ContactSort::default(), offset, limit: 15 };
        let mut session = db.begin().expect("begin");
        session.contacts_page(AccountId::new(account), &query).expect("page").total
    }

    /// Inserts and deletes of any size keep each account's count, before and after a fold, on a page and past
    /// the last one; a rolled-back insert counts nothing; the fold empties the changes and keeps the totals.
    #[test]
    fn the_kept_count_follows_every_insert_and_delete() {
        let db = TestDatabase::new();
        let mut conn = db.connection();
        let pg = db.pool(2);
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a'), ('b')").execute(&mut conn).expect("accounts");
        let ids: Vec<i64> = {
            #[derive(diesel::QueryableByName)]
            struct Id {
                #[diesel(sql_type = BigInt)]
                id: i64,
            }
            diesel::sql_query("SELECT id FROM accounts ORDER BY id").load::<Id>(&mut conn).expect("ids")
        }
        .into_iter()
        .map(|r| r.id)
        .collect();
        let (a, b) = (ids[0], ids[1]);
        for _ in 0..3 {
            diesel::sql_query("INSERT INTO contacts (account_id, name) VALUES ($1, 'one')")
                .bind::<BigInt, _>(a)
                .execute(&mut conn)
                .expect("one");
        }
        diesel::sql_query(
            "INSERT INTO contacts (account_id, name) SELECT acc, 'many' FROM unnest(ARRAY[$1, $2]) acc, generate_series(1, 40)",
        )
        .bind::<BigInt, _>(a)
        .bind::<BigInt, _>(b)
        .execute(&mut conn)
        .expect("many");
        let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
            diesel::sql_query("INSERT INTO contacts (account_id, name) VALUES ($1, 'gone')")
                .bind::<BigInt, _>(b)
                .execute(c)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        diesel::sql_query("DELETE FROM contacts WHERE id IN (SELECT id FROM contacts WHERE account_id = $1 LIMIT 7)")
            .bind::<BigInt, _>(b)
            .execute(&mut conn)
            .expect("delete");
        assert_eq!((exact(&mut conn, a), exact(&mut conn, b)), (43, 33));
        assert_eq!((listed(&pg, a, 0), listed(&pg, b, 0)), (43, 33), "before the fold");
        assert_eq!(listed(&pg, a, 9_000), 43, "past the last page");
        assert!(pending(&mut conn) > 0);

        assert!(pg.fold_contact_counts().expect("fold") > 0);
        assert_eq!(pending(&mut conn), 0, "every change folded");
        assert_eq!((listed(&pg, a, 0), listed(&pg, b, 0)), (43, 33), "after the fold");
        assert_eq!(pg.fold_contact_counts().expect("fold again"), 0, "nothing left to fold");
    }

    /// Folds running at the same time as each other and as inserts never count a change twice or lose one.
    #[test]
    fn concurrent_folds_and_inserts_keep_the_count_exact() {
        let db = TestDatabase::new();
        let mut conn = db.connection();
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
        let account: Count =
            diesel::sql_query("SELECT min(id) AS n FROM accounts").get_result(&mut conn).expect("account id");
        let pg = db.pool(4);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let url = db.url().to_owned();
                scope.spawn(move || {
                    let mut conn = PgConnection::establish(&url).expect("connect");
                    for i in 0..100 {
                        diesel::sql_query("INSERT INTO contacts (account_id, name) VALUES ($1, 'c')")
                            .bind::<BigInt, _>(account.n)
                            .execute(&mut conn)
                            .expect("insert");
                        if i % 10 == 0 {
                            diesel::sql_query(
                                "DELETE FROM contacts WHERE id = (SELECT max(id) FROM contacts WHERE account_id = $1)",
                            )
                            .bind::<BigInt, _>(account.n)
                            .execute(&mut conn)
                            .expect("delete");
                        }
                    }
                });
            }
            for _ in 0..2 {
                let pg = pg.clone();
                scope.spawn(move || {
                    for _ in 0..50 {
                        pg.fold_contact_counts().expect("fold");
                    }
                });
            }
        });
        pg.fold_contact_counts().expect("last fold");
        assert_eq!(pending(&mut conn), 0);
        assert_eq!(i64::try_from(listed(&pg, account.n, 0)).expect("fits"), exact(&mut conn, account.n));
        // 200 inserts and 20 deletes of the newest contact, two of which may have raced for the same row
        assert!((180..=190).contains(&exact(&mut conn, account.n)));
    }

    /// A search counts its matches up to the ceiling and no further; its pages are right on both sides of it:
    /// sorted out of the few matches of a rare term, read along the index for a common one.
    #[test]
    fn a_search_counts_up_to_the_ceiling_and_pages_both_ways() {
        use application::ports::ContactSortKey;

        let db = TestDatabase::new();
        let mut conn = db.connection();
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
        let ceiling = i64::try_from(SEARCH_COUNT_CEILING).expect("fits");
        // ceiling + 5 common matches (names "Common 00001" …), and three rare ones among them
        diesel::sql_query(
            "INSERT INTO contacts (account_id, name, email) \
             SELECT (SELECT min(id) FROM accounts), 'Common ' || lpad(g::text, 5, '0'), \
                    CASE WHEN g IN (7, 70, 700) THEN 'rare' || g || '@example.com' END \
             FROM generate_series(1, $1) g",
        )
        .bind::<BigInt, _>(ceiling + 5)
        .execute(&mut conn)
        .expect("contacts");
        diesel::sql_query("ANALYZE contacts").execute(&mut conn).expect("analyze");
        let account: Count = diesel::sql_query("SELECT min(id) AS n FROM accounts").get_result(&mut conn).expect("id");
        let pg = db.pool(1);
        let search = |term: &str, descending: bool, offset: u64| {
            let sort = ContactSort { key: ContactSortKey::Name, descending };
            let query = ContactQuery { search: Some(term.to_owned()), sort, offset, limit: 15 };
            let mut session = pg.begin().expect("begin");
            session.contacts_page(AccountId::new(account.n), &query).expect("page")
        };
        let names = |page: &application::ports::ContactPage| -> Vec<String> {
            page.contacts.iter().map(|c| c.attributes.name.clone()).collect()
        };

        let common = search("common", false, 30);
        assert_eq!(common.total, SEARCH_COUNT_CEILING, "capped");
        assert_eq!(names(&common).first().map(String::as_str), Some("Common 00031"));
        assert_eq!(names(&common).len(), 15);
        let last = search("common", true, 0);
        assert_eq!(names(&last).first().map(String::as_str), Some(format!("Common {:05}", ceiling + 5).as_str()));

        let rare = search("rare", true, 0);
        assert_eq!(rare.total, 3, "exact below the ceiling");
        assert_eq!(names(&rare), ["Common 00700", "Common 00070", "Common 00007"]);
        let past = search("rare", true, 15);
        assert_eq!((past.total, past.contacts.len()), (3, 0), "past the end, still counted");
        let last_one = search("rare", true, 2);
        assert_eq!((last_one.total, names(&last_one)), (3, vec!["Common 00007".to_owned()]));
        let at_end = search("rare", true, 3);
        assert_eq!((at_end.total, at_end.contacts.len()), (3, 0), "the page right after the last match");
        let beyond = search("common", false, 20_000);
        assert_eq!((beyond.total, beyond.contacts.len()), (SEARCH_COUNT_CEILING, 0), "past the end of a common term");
        for offset in [0, 15] {
            let none = search("nobody", false, offset);
            assert_eq!((none.total, none.contacts.len()), (0, 0), "no match, offset {offset}");
        }
    }
}
