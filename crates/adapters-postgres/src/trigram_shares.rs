//! Which parts of a long search term to look up in the search's trigram index: the term's rarest trigrams,
//! judged from a sample of the searchable text that each process keeps and renews in the background.
//!
//! Why: the trigram index answers `text LIKE '%term%'` by intersecting the entry lists of every trigram of the
//! term, and PostgreSQL's GIN scan advances each list to each candidate of the rarest one. A whole email has
//! some 25 trigrams, most of them in a large share of all contacts (`per`, `com`, `exa`, …): on 1,000,000
//! contacts the one-hit search spent about 40 ms advancing those lists (4,200 index pages). Looking up its
//! three rarest trigrams instead (each a piece of the term) finds a dozen candidates in 0.2 ms, and the whole
//! term, tested on those rows, keeps the answer exact: the probes only choose which rows are tested.
//!
//! The sample: about [`SAMPLE_ROWS`] contacts of the whole table (the index is shared by every account, so its
//! lists are as long as the whole table's counts), taken with `TABLESAMPLE SYSTEM`, their trigrams counted by
//! `pg_trgm`'s own `show_trgm`. Taken on the first search after start and renewed every [`RENEW_EVERY`] (two minutes, so that a large import is soon seen) by a
//! thread of its own, never on a request's time: until the first sample is there, searches send the whole
//! term as before. A stale sample only makes a search slower, never wrong.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use application::StoreError;
use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel::sql_types::{BigInt, Double, Text};

use crate::errors::{from_pool, StoreResult};
use crate::pool::Manager;

/// About how many contacts a sample reads (about 150 ms of database time at 1,000,000 contacts).
const SAMPLE_ROWS: f64 = 10_000.0;
/// Most contacts a sample reads, whatever the table's estimated size.
const SAMPLE_LIMIT: i64 = 40_000;
/// How old a sample may get before a search asks for a new one.
const RENEW_EVERY: Duration = Duration::from_secs(120);
/// How long after a failed sample the next one is tried.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Most pieces of a term looked up in the index.
const MAX_PROBES: usize = 3;
/// Enough pieces: when the pieces chosen so far are expected (as if independent) in this share of the
/// contacts or fewer, the rest of the term is tested on the rows they find.
const SELECTIVE_ENOUGH: f64 = 1e-6;

/// How many of a sample's contacts hold each trigram (`pg_trgm`'s: lower-cased, words padded with spaces).
#[derive(Debug, Default)]
pub(crate) struct TrigramShares {
    rows: u64,
    holders: HashMap<[u8; 3], u64>,
}

impl TrigramShares {
    /// Shares from `(trigram, contacts holding it)` counted over `rows` contacts. Trigrams that are not three
    /// ASCII bytes (`pg_trgm` shows a hash for those) are left out: no piece of a term ever looks them up.
    pub(crate) fn new(rows: u64, counts: impl IntoIterator<Item = (String, u64)>) -> Self {
        let holders = counts
            .into_iter()
            .filter_map(|(trigram, n)| <[u8; 3]>::try_from(trigram.as_bytes()).ok().map(|t| (t, n)))
            .filter(|(t, _)| t.is_ascii())
            .collect();
        Self { rows, holders }
    }

    fn holders(&self, trigram: &[u8; 3]) -> u64 {
        self.holders.get(trigram).copied().unwrap_or(0)
    }

    /// The share of contacts expected to hold `trigram`; one the sample never saw counts as half a holder.
    fn share(&self, trigram: &[u8; 3]) -> f64 {
        let rows = self.rows.max(1) as f64;
        (self.holders(trigram) as f64).max(0.5) / rows
    }
}

/// A piece of the term that `pg_trgm` turns into exactly one trigram when it is searched as `%piece%`: three
/// ASCII letters or digits (that trigram), or two followed by a punctuation mark or a space (the trigram of a
/// word ending in those two: `y7.` finds `company7.example`).
#[derive(Debug, Clone, PartialEq)]
struct Piece {
    at: usize,
    trigram: [u8; 3],
}

/// The term's pieces, in order. The term is compared lower-cased, as the index holds the text.
fn pieces(term: &str) -> Vec<Piece> {
    let bytes = term.as_bytes();
    bytes
        .windows(3)
        .enumerate()
        .filter_map(|(at, w)| {
            let (a, b, c) = (w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase(), w[2].to_ascii_lowercase());
            if !(a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric()) {
                return None;
            }
            let third = if c.is_ascii_alphanumeric() {
                c
            } else if (c == b' ' || c.is_ascii_punctuation()) && !matches!(c, b'%' | b'_' | b'\\') {
                // the end of a word: LIKE's wildcards and escape are no word boundary for `pg_trgm`
                b' '
            } else {
                return None;
            };
            Some(Piece { at, trigram: [a, b, third] })
        })
        .collect()
}

/// The `LIKE` patterns to look the term up by in the index, rarest first; none when the term should be
/// looked up whole (it has few trigrams, so all of them cost little). Each pattern is `%piece%`, lower-cased,
/// and holds no wildcard or escape of its own.
pub(crate) fn probes(term: &str, shares: &TrigramShares) -> Vec<String> {
    let mut candidates = pieces(term);
    if candidates.len() <= MAX_PROBES {
        return Vec::new();
    }
    candidates.sort_by_key(|p| (shares.holders(&p.trigram), p.at));
    let mut chosen: Vec<&Piece> = Vec::new();
    let mut expected = 1.0;
    // Pieces apart from each other first: overlapping ones tend to be held by the same contacts.
    for apart in [true, false] {
        for piece in &candidates {
            if chosen.len() == MAX_PROBES || expected <= SELECTIVE_ENOUGH {
                break;
            }
            let taken = chosen.iter().any(|c| c.trigram == piece.trigram);
            let overlaps = chosen.iter().any(|c| c.at.abs_diff(piece.at) < 3);
            if taken || (apart && overlaps) {
                continue;
            }
            expected *= shares.share(&piece.trigram);
            chosen.push(piece);
        }
    }
    let lower = term.to_ascii_lowercase();
    chosen.iter().filter_map(|p| lower.get(p.at..p.at + 3)).map(|piece| format!("%{piece}%")).collect()
}

/// The sample behind the probes of one process's searches, and its renewal.
pub(crate) struct SearchSample {
    pool: Pool<Manager>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    shares: Option<Arc<TrigramShares>>,
    /// When the next sample is due (none yet: at once).
    due: Option<Instant>,
    taking: bool,
}

impl SearchSample {
    pub(crate) fn new(pool: Pool<Manager>) -> Self {
        Self { pool, state: Mutex::new(State::default()) }
    }

    /// The current sample, if one was taken. Starts taking the next one on a thread of its own when it is due.
    pub(crate) fn shares(self: &Arc<Self>) -> Option<Arc<TrigramShares>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.taking && state.due.is_none_or(|due| Instant::now() >= due) {
            let sample = Arc::clone(self);
            state.taking = thread::Builder::new().name("search-sample".into()).spawn(move || sample.renew()).is_ok();
        }
        state.shares.clone()
    }

    /// Takes a sample now, on this thread (the background renewal's work; tests call it to have one at once).
    ///
    /// # Errors
    /// `Unavailable` when no connection comes in time; storage failures.
    pub(crate) fn renew(&self) -> Result<(), StoreError> {
        let taken =
            self.pool.get_timeout(Duration::from_secs(5)).map_err(|e| from_pool(&e)).and_then(|mut c| take(&mut c));
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.taking = false;
        match taken {
            Ok(shares) => {
                state.shares = Some(Arc::new(shares));
                state.due = Some(Instant::now() + RENEW_EVERY);
                Ok(())
            }
            Err(e) => {
                log::warn!("could not sample the search's trigrams (searches look terms up whole meanwhile): {e}");
                state.due = Some(Instant::now() + RETRY_AFTER);
                Err(e)
            }
        }
    }
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = Text)]
    trigram: String,
    #[diesel(sql_type = BigInt)]
    holders: i64,
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

#[derive(QueryableByName)]
struct Estimate {
    #[diesel(sql_type = Double)]
    rows: f64,
}

/// Samples the searchable text (the expression of the search's trigram index, migration
/// `2026-12-03-000050`) and counts the contacts holding each trigram.
fn take(conn: &mut PgConnection) -> Result<TrigramShares, StoreError> {
    // The planner's row count, or, for a table never analyzed yet (a large import that autovacuum has not
    // visited), one from its size that errs high (a contact row takes more than 200 bytes): a smaller sample.
    let estimate: Estimate = diesel::sql_query(
        "SELECT (CASE WHEN reltuples > 0 THEN reltuples ELSE pg_relation_size(oid) / 200.0 END)::float8 AS rows \
         FROM pg_class WHERE oid = 'contacts'::regclass",
    )
    .get_result(conn)
    .store()?;
    // SYSTEM reads whole pages at random: the share of pages that holds about SAMPLE_ROWS contacts. The LIMIT
    // bounds the work whatever the estimate.
    let percent = if estimate.rows <= SAMPLE_ROWS { 100.0 } else { SAMPLE_ROWS * 100.0 / estimate.rows };
    let counted: Vec<Held> = diesel::sql_query(concat!(
        "WITH sampled AS MATERIALIZED (SELECT ",
        joined_text!(),
        " AS text FROM contacts TABLESAMPLE SYSTEM ($1) LIMIT $2) \
         SELECT trigram, count(*) AS holders, (SELECT count(*) FROM sampled) AS rows \
         FROM sampled, unnest(show_trgm(text)) AS trigram GROUP BY trigram"
    ))
    .bind::<Double, _>(percent)
    .bind::<BigInt, _>(SAMPLE_LIMIT)
    .load(conn)
    .store()?;
    let rows = counted.first().map_or(0, |h| u64::try_from(h.rows).unwrap_or(0));
    Ok(TrigramShares::new(rows, counted.into_iter().map(|h| (h.trigram, u64::try_from(h.holders).unwrap_or(0)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(rows: u64, counts: &[(&str, u64)]) -> TrigramShares {
        TrigramShares::new(rows, counts.iter().map(|(t, n)| ((*t).to_owned(), *n)))
    }

    #[test]
    fn pieces_are_three_letters_or_digits_or_a_word_end() {
        let found: Vec<String> =
            pieces("Ab7.e-%x_y\\z é").iter().map(|p| String::from_utf8_lossy(&p.trigram).into_owned()).collect();
        // "ab7", "b7." (a word end), "7.e" no (a dot in the middle), ".e-" no, "e-%" no, "-%x" no, "%x_" no …
        assert_eq!(found, ["ab7", "b7 "]);
        assert!(pieces("ab").is_empty());
        assert!(pieces("héllo").iter().all(|p| p.trigram.is_ascii()));
    }

    #[test]
    fn a_long_term_is_looked_up_by_its_rarest_pieces_apart_from_each_other() {
        // the bench's whole email: `y7 ` is held by 1 in 1,000 contacts, `07 ` and `n50` by 1 in 100
        let s = shares(
            10_000,
            &[
                ("per", 10_000),
                ("ers", 10_000),
                ("rso", 10_000),
                ("son", 10_000),
                ("on5", 1_100),
                ("n50", 110),
                ("500", 300),
                ("000", 2_000),
                ("007", 1_100),
                ("07 ", 100),
                ("com", 7_500),
                ("omp", 7_500),
                ("mpa", 7_500),
                ("pan", 7_500),
                ("any", 7_500),
                ("ny7", 840),
                ("y7 ", 10),
                ("exa", 7_500),
                ("xam", 7_500),
                ("amp", 7_500),
                ("mpl", 7_500),
                ("ple", 7_500),
            ],
        );
        assert_eq!(probes("person500007@Company7.example", &s), ["%y7.%", "%07@%", "%n50%"]);
    }

    #[test]
    fn pieces_stop_when_they_are_selective_enough() {
        // two pieces the sample never saw: each expected in 1 of 20,000, both in 1 of 400,000,000
        let s = shares(10_000, &[("abc", 5_000), ("bcd", 5_000), ("cde", 5_000)]);
        assert_eq!(probes("abcdexyzqw", &s), ["%dex%", "%yzq%"]);
    }

    #[test]
    fn overlapping_pieces_come_after_the_ones_apart() {
        // five pieces, every one common: "abc" and "def" are apart, then the rarest overlapping one
        let s = shares(100, &[("abc", 10), ("bcd", 20), ("cde", 30), ("def", 11), ("efg", 90)]);
        assert_eq!(probes("abcdefg", &s), ["%abc%", "%def%", "%bcd%"]);
    }

    #[test]
    fn a_short_term_is_looked_up_whole() {
        let s = shares(100, &[]);
        assert!(probes("smith", &s).is_empty());
        assert!(probes("a", &s).is_empty());
        // long, but with no piece the index could take alone
        assert!(probes("ü-ö-ä-ß-é", &s).is_empty());
    }

    #[test]
    fn hashed_and_padded_trigrams_of_the_sample_are_kept_only_when_ascii() {
        let s = shares(10, &[("0x1a2b3c", 3), ("  a", 5), ("ab ", 2), ("éa", 1)]);
        assert_eq!(s.holders(b"  a"), 5);
        assert_eq!(s.holders(b"ab "), 2);
        assert_eq!(s.holders.len(), 2);
    }
}

#[cfg(all(test, feature = "test-support"))]
mod searched {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use application::ports::{ContactQuery, ContactSort, ContactStore};
    use application::Database;
    use diesel::sql_types::BigInt;
    use domain::AccountId;

    use super::*;
    use crate::store::PgSession;
    use crate::testing::TestDatabase;
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
            "INSERT INTO contact_identities (account_id, contact_id, kind, value) \
             VALUES ($1, $2, 'email', 'person500009@company9.example')",
        )
        .bind::<BigInt, _>(a)
        .bind::<BigInt, _>(by_secondary)
        .execute(&mut conn)
        .expect("secondary identity");
        diesel::sql_query("ANALYZE contacts").execute(&mut conn).expect("analyze");

        let pg: PgDatabase = db.pool(2);
        pg.sample_search_text().expect("sample");
        let shares = pg.search_sample().shares().expect("a sample");
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
        let account =
            diesel::sql_query("SELECT min(id) AS id FROM accounts").get_result::<Id>(&mut conn).expect("id").id;
        let owner = insert(&mut conn, account, "Owner", Some("owner@company.example"), None);
        let pg: PgDatabase = db.pool(2);
        assert!(pg.search_sample().shares().is_none(), "no sample before the first search");
        let mut session = pg.begin().expect("session");
        assert_eq!(found(session.as_mut(), account, "owner@company.example"), [owner]);
        drop(session);
        let deadline = Instant::now() + Duration::from_secs(10);
        let shares = loop {
            if let Some(shares) = pg.search_sample().shares() {
                break shares;
            }
            assert!(Instant::now() < deadline, "the sample never came");
            thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(shares.rows, 1);
        assert_eq!(shares.holders(b"own"), 1);
        assert_eq!(shares.holders(b"zzz"), 0);
    }
}
