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
//! `pg_trgm`'s own `show_trgm`. Taken on the first search after start and renewed every [`RENEW_EVERY`] (two
//! minutes, so that a large import is soon seen) on a thread of its own, never on a request's time
//! (`PgDatabase::search_shares`): until the first sample is there, searches send the whole term as before. A
//! stale sample only makes a search slower, never wrong.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use application::StoreError;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use crate::errors::StoreResult;

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
#[derive(Debug)]
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

    pub(crate) fn holders(&self, trigram: &[u8; 3]) -> u64 {
        self.holders.get(trigram).copied().unwrap_or(0)
    }

    /// How many contacts the sample read.
    #[cfg(test)]
    pub(crate) fn rows(&self) -> u64 {
        self.rows
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
#[derive(Debug)]
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

/// The sample behind the probes of one process's searches, and when the next one is due. Taking one is the
/// pool's (`PgDatabase::search_shares`), on a thread of its own.
#[derive(Default)]
pub(crate) struct SearchSample {
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
    /// The current sample, if one was taken, and whether the caller is to take the next one now: it is due and
    /// nobody is taking it. A caller told so reports what it took through [`SearchSample::taken`].
    pub(crate) fn current(&self) -> (Option<Arc<TrigramShares>>, bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let take = !state.taking && state.due.is_none_or(|due| Instant::now() >= due);
        state.taking |= take;
        (state.shares.clone(), take)
    }

    /// Keeps a new sample, or, when taking it failed, says so in the log and tries again later.
    ///
    /// # Errors
    /// The failure, passed on.
    pub(crate) fn taken(&self, taken: Result<TrigramShares, StoreError>) -> Result<(), StoreError> {
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
pub(crate) fn take(conn: &mut PgConnection) -> Result<TrigramShares, StoreError> {
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

    #[test]
    fn one_sample_is_taken_at_a_time_and_a_failure_waits_before_the_next() {
        let sample = SearchSample::default();
        assert!(matches!(sample.current(), (None, true)), "the first caller takes one");
        assert!(matches!(sample.current(), (None, false)), "nobody else meanwhile");
        sample.taken(Ok(shares(7, &[("abc", 3)]))).expect("kept");
        let (current, due) = sample.current();
        assert_eq!(current.map(|s| s.rows()), Some(7));
        assert!(!due, "not due for two minutes");
        // a failed renewal keeps the sample it had and is not due again at once
        sample.state.lock().unwrap().due = Some(Instant::now());
        assert!(sample.current().1);
        assert!(sample.taken(Err(StoreError::Unavailable("down".into()))).is_err());
        let (current, due) = sample.current();
        assert_eq!(current.map(|s| s.rows()), Some(7));
        assert!(!due, "tried again after RETRY_AFTER");
    }
}
