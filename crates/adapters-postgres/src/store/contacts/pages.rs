//! The SQL of a contact list or search page: the order each sort key reads in, and how a page is taken from an
//! index so that its cost does not grow with the account (used by `store::contacts`).
//!
//! A list page is `ORDER BY key direction NULLS LAST, id direction` whatever the key (missing values last, as
//! the reference lists them). Two things keep a page off a sort of the account:
//! * **Halves.** A page in the first half of the list is counted off from its start, one in the second half
//!   from its end, in the opposite order along the same index (the account's count is kept, so where the end
//!   is costs nothing). The deepest page walks half the account's index entries instead of all of them.
//! * **Parts.** Where the index holds missing values at the wrong end for the direction asked (ascending
//!   `last_activity_at`, whose index is descending), and for `email` and `phone_number` (unique among the
//!   contacts that have one, so their unique indexes order those without a tie to break by id), the order is
//!   read in two parts: the contacts with a value, then those without (by id). The second part is read only when
//!   the page reaches it; where the page lies wholly in it, the first part is counted (index entries only).

use application::ports::{ContactSort, ContactSortKey};

/// The search predicate. The first alternative is written exactly as the search's trigram index is defined
/// (`joined_text!`: the four searchable columns and the text of the identities merged in, joined by U+001F), so
/// that PostgreSQL answers it from that one GIN index instead of scanning the account's contacts. `$2` is the
/// escaped `%term%` pattern; emails are stored lower-cased and phone numbers have no case, so only name and
/// identifier are lowered. A pattern without U+001F matches the joined text exactly where it matches one column
/// or one merged identity (a match cannot cross a separator it does not hold); with one, the columns are tested
/// one by one (`within_one_column!`). The second alternative finds contacts by the secondary identities of their
/// own holder (`by_secondary_identity!`). A macro, so that other statements can be assembled from it at compile
/// time.
macro_rules! search_condition {
    () => {
        concat!(
            "((",
            joined_text!(),
            " LIKE lower($2) AND ",
            within_one_column!(),
            ") OR ",
            by_secondary_identity!(),
            ")"
        )
    };
}

/// A match of the joined text that lies within one column: the `strpos` test is folded away at planning for
/// the usual pattern (no U+001F), so the planner estimates the joined text's match alone.
macro_rules! within_one_column {
    () => {
        "(strpos($2, E'\\x1f') = 0 OR lower(name) LIKE lower($2) OR email LIKE lower($2) \
          OR phone_number LIKE lower($2) OR lower(identifier) LIKE lower($2))"
    };
}

/// The contacts holding the term in a secondary identity of their own holder (primaries are the four columns,
/// and the identities of holders taken in merges are in the joined text): the partial trigram index of the
/// identities migration answers the subquery once (an init plan), and its few contact ids join the bitmap OR
/// through the primary key. A holder at home has its contact's id, so a secondary's holder id is its contact's;
/// a holder merged away has the id of a contact gone, which matches nothing. It says `account_id + 0` so that
/// only that index can answer it: with statistics taken before a large import the planner once read the
/// account's 2,500,000 identities through the account index instead (1.2 s for a one-hit search, measured in
/// the bench).
macro_rules! by_secondary_identity {
    () => {
        "id = ANY (ARRAY(SELECT holder_id FROM contact_identities \
                        WHERE account_id + 0 = $1 AND NOT is_primary AND lower(value) LIKE lower($2)))"
    };
}

/// The search predicate (see [`search_condition!`]).
pub(super) const SEARCH_CONDITION: &str = search_condition!();

/// The search predicate of a term looked up in the index by `probes` of its pieces (`$6`, `$7`, …: `%piece%`
/// patterns, see `crate::trigram_shares`): the index is asked for the contacts holding every piece, and the
/// whole term is tested on those rows alone (`|| ''` keeps it from the index, which would otherwise intersect
/// the entry lists of all its trigrams, the cost the pieces avoid).
pub(super) fn probed_search_condition(probes: usize) -> String {
    let asked: Vec<String> = (0..probes).map(|i| format!("{} LIKE ${}", joined_text!(), 6 + i)).collect();
    format!(
        "(({} AND ({} || '') LIKE lower($2) AND {}) OR {})",
        asked.join(" AND "),
        joined_text!(),
        within_one_column!(),
        by_secondary_identity!()
    )
}

/// The same predicate as [`SEARCH_CONDITION`], written so that no index can answer it (`|| ''` hides each
/// column from its trigram index) and tested contact by contact. A search that matches more contacts than the
/// count ceiling reads its page along the sort order's index with this filter: given a trigram index to use,
/// the planner would rather collect and sort every match (300 ms for 100,000 of them). A secondary identity of
/// the contact's own holder is looked up per contact (its holder id is the contact's), instead of collected for
/// the whole account.
const SEARCH_FILTER: &str = "((lower(name) || '') LIKE lower($2) OR (email || '') LIKE lower($2) \
     OR (phone_number || '') LIKE lower($2) OR (lower(identifier) || '') LIKE lower($2) \
     OR (strpos($2, E'\\x1f') = 0 AND (merged_identities || '') LIKE lower($2)) \
     OR EXISTS (SELECT 1 FROM contact_identities i WHERE i.account_id = $1 AND i.holder_id = contacts.id \
                AND NOT i.is_primary AND lower(i.value) LIKE lower($2)))";

/// The account's contact count as the database keeps it (see the contact counts migration): the folded total
/// plus the changes not folded yet, read in one snapshot. `$1` is the account.
macro_rules! kept_count {
    () => {
        "SELECT (coalesce((SELECT contacts FROM account_contact_counts WHERE account_id = $1), 0) \
         + coalesce((SELECT sum(delta) FROM contact_count_changes WHERE account_id = $1), 0))::bigint"
    };
}

/// The kept count, as a scalar subquery of the list page.
const KEPT_COUNT: &str = kept_count!();

/// The kept count on its own, for a list page past the end.
pub(super) const KEPT_COUNT_SQL: &str = concat!(kept_count!(), " AS n");

/// The SQL a sort key orders by, whether it can be NULL, and, for one that can, whether its index holds NULLs
/// last when read in descending order.
fn sort_expression(key: ContactSortKey) -> (&'static str, Nullable) {
    match key {
        // case-insensitive, as people read names; contacts_account_name_idx, both directions
        ContactSortKey::Name => ("lower(name)", Nullable::No),
        // the unique indexes (account_id, email) and (account_id, phone_number), which include the id (migration
        // 2026-12-03-000041): ascending, NULLs last
        ContactSortKey::Email => ("email", Nullable::Unique),
        ContactSortKey::PhoneNumber => ("phone_number", Nullable::Unique),
        // contacts_account_last_activity_idx: descending, NULLs last
        ContactSortKey::LastActivityAt => ("last_activity_at", Nullable::NullsLastDescending),
        // contacts_account_created_idx, both directions
        ContactSortKey::CreatedAt => ("created_at", Nullable::No),
    }
}

/// Whether a sort key can be NULL, and how its index holds it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nullable {
    No,
    /// Unique per account where present, in an ascending index with NULLs last.
    Unique,
    /// In an index read descending with NULLs last, then by id.
    NullsLastDescending,
}

/// The ORDER BY of a page in `sort` order (by id last, so that pages never overlap), with the key's SQL and the
/// ORDER BY's direction and NULLs placement. NULLS LAST is only spelled out where a column can be NULL: on a
/// NOT NULL column it changes nothing but would stop (account_id, created_at, id) serving descending pages.
pub(super) fn page_order(sort: ContactSort) -> (String, &'static str, &'static str, &'static str) {
    let direction = if sort.descending { "DESC" } else { "ASC" };
    let (expression, nullable) = sort_expression(sort.key);
    let nulls = if nullable == Nullable::No { "" } else { " NULLS LAST" };
    (format!("ORDER BY {expression} {direction}{nulls}, id {direction}"), expression, direction, nulls)
}

/// A stretch of a list order that one index scan reads: its extra condition and its ORDER BY.
struct Part {
    condition: String,
    order: String,
}

/// How an order is read: in one index scan, or in two parts, one after the other.
enum Parts {
    Whole(Part),
    Split(Part, Part),
}

/// The parts of `sort` order, read forwards or (`reversed`) from the end.
fn parts(sort: ContactSort, reversed: bool) -> Parts {
    let (expression, nullable) = sort_expression(sort.key);
    // the direction this reading walks in, and its opposite
    let descending = sort.descending != reversed;
    let direction = if descending { "DESC" } else { "ASC" };
    let whole = |nulls: &str| {
        Parts::Whole(Part {
            condition: String::new(),
            order: format!("ORDER BY {expression} {direction}{nulls}, id {direction}"),
        })
    };
    // in the order asked, NULLs come last; read from the end, first
    let nulls_first = reversed;
    let (valued_order, missing_order) = match nullable {
        Nullable::No => return whole(""),
        // The value alone orders those that have one: no tie to break, so no sort of the index's order. Those
        // without one are read by id (a walk of the primary key, or a sort of them).
        Nullable::Unique => (format!("ORDER BY {expression} {direction}"), format!("ORDER BY id {direction}")),
        Nullable::NullsLastDescending => {
            if descending != nulls_first {
                return whole(if nulls_first { " NULLS FIRST" } else { " NULLS LAST" });
            }
            // The index holds NULLs at the other end: each part is read in the index's own order, NULLs placed
            // as the index has them (which orders those with a value as asked, and those without by id: the
            // planner cannot tell that `IS NULL` makes the key a constant, and would walk the primary key and
            // read every row to order them by id).
            let index_nulls = if descending { " NULLS LAST" } else { " NULLS FIRST" };
            let order = format!("ORDER BY {expression} {direction}{index_nulls}, id {direction}");
            (order.clone(), order)
        }
    };
    let valued = Part { condition: format!(" AND {expression} IS NOT NULL"), order: valued_order };
    let missing = Part { condition: format!(" AND {expression} IS NULL"), order: missing_order };
    if nulls_first {
        Parts::Split(missing, valued)
    } else {
        Parts::Split(valued, missing)
    }
}

/// The ids (and sort keys, `k`) of `limit` contacts from `offset` on, read along `parts`. `name` names the
/// common table expressions it needs, which are returned apart.
fn ids_of(parts: &Parts, expression: &str, name: &str, limit: &str, offset: &str) -> (Vec<String>, String) {
    let read = |part: &Part, limit: &str, offset: &str| {
        format!(
            "SELECT id, {expression} AS k FROM contacts WHERE account_id = $1{} {} LIMIT {limit} OFFSET {offset}",
            part.condition, part.order
        )
    };
    match parts {
        Parts::Whole(part) => (Vec::new(), read(part, limit, offset)),
        Parts::Split(first, second) => {
            // The first part's rows of the page. Only when they do not fill it is the second part read: right
            // after them when there are some (the first part ended within the page), else after counting the
            // first part (the page lies wholly in the second).
            let head = format!("{name}_head AS MATERIALIZED ({})", read(first, limit, offset));
            let tail = read(
                second,
                &format!("{limit} - (SELECT count(*) FROM {name}_head)"),
                &format!(
                    "CASE WHEN EXISTS (SELECT FROM {name}_head) THEN 0 \
                     ELSE {offset} - (SELECT count(*) FROM contacts WHERE account_id = $1{}) END",
                    first.condition
                ),
            );
            let select = format!(
                "SELECT id, k FROM {name}_head UNION ALL \
                 SELECT id, k FROM ({tail}) AS tail WHERE (SELECT count(*) FROM {name}_head) < {limit}"
            );
            (vec![head], select)
        }
    }
}

/// One page of contacts, each row with the number of matches in all pages (`total`): `$1` the account, `$2` the
/// search pattern (unused without a search), `$3` the limit, `$4` the offset, `$5` one more than the search count
/// ceiling, and from `$6` on the `probes` pieces a long term is looked up by in the index (none: the whole
/// term, see [`probed_search_condition`]). Assembled from fixed fragments only; nothing the client sent is
/// spliced in.
///
/// The list reads the kept count, and its page's ids from the sort order's index alone where it can (an
/// index-only scan: a deep page walks index entries, not rows), from whichever end of the order is nearer (see
/// the module's doc), then those rows. A search first collects at most `$5` matches (`capped`): the trigram
/// index finds a rare term's few matches at once, and a scan stops at `$5` for a common one. Then
/// exactly one of two branches runs (the other's one-time filter is false, so it is never executed):
/// * fewer than `$5` matches and the page within them: the page is sorted out of those;
/// * otherwise one marker row (a match) that carries the count: for `$5` matches the caller reads the page with
///   [`broad_search_page_sql`], past the end there is none. Without the marker such a search would return no
///   row at all, and its count would take another statement; reading the broad page here as well (as a third
///   branch) cost every search about a seventh of its database time to plan, for the few searches that need it.
pub(super) fn contacts_page_sql(search: bool, sort: ContactSort, probes: usize) -> String {
    let (order, expression, direction, _) = page_order(sort);
    if !search {
        // From the start while the page is in the first half (`2 * offset + limit <= count`), else from the end:
        // `count - offset - limit` rows are skipped there (none on a last, short page), and `count - offset`
        // rows remain from the page's start to the end (none past the end).
        let (mut ctes, forwards) = ids_of(&parts(sort, false), expression, "forwards", "$3", "$4");
        let (backward_ctes, backwards) = ids_of(
            &parts(sort, true),
            expression,
            "backwards",
            "least($3, greatest((SELECT n FROM counted) - $4, 0))",
            "greatest((SELECT n FROM counted) - $4 - $3, 0)",
        );
        ctes.extend(backward_ctes);
        // The outer LIMIT changes no result (a page has at most `$3` ids); it tells the planner so, which
        // otherwise guesses a tenth of the account for the backward read and joins it by hashing every contact.
        let ctes: String = ctes.iter().map(|cte| format!(", {cte}")).collect();
        return format!(
            "WITH counted AS (SELECT ({KEPT_COUNT}) AS n){ctes} \
             SELECT contacts.*, (SELECT n FROM counted) AS total \
             FROM ((SELECT * FROM ({forwards}) AS f WHERE 2 * $4 + $3 <= (SELECT n FROM counted)) \
                   UNION ALL \
                   (SELECT * FROM ({backwards}) AS b WHERE 2 * $4 + $3 > (SELECT n FROM counted)) \
                   LIMIT $3) AS page \
             JOIN contacts ON contacts.id = page.id \
             ORDER BY page.k {direction} NULLS LAST, page.id {direction}"
        );
    }
    // The matches are collected whole, not as ids joined back to `contacts` for the page: every reading of
    // `contacts` is one more to plan (its dozen indexes each considered), and a search's statement took longer to
    // plan than to run. Measured on the bench's 100,000 contacts (a 10-hit term, planning + execution, median of
    // 10): 0.34 + 0.10 ms with the ids joined back, 0.23 + 0.06 ms whole; a broad term on 1,000,000 contacts
    // copies its 10,001 rows for about 0.5 ms more.
    let condition = if probes == 0 { SEARCH_CONDITION.to_owned() } else { probed_search_condition(probes) };
    format!(
        "WITH capped AS MATERIALIZED ( \
             SELECT contacts.* FROM contacts WHERE account_id = $1 AND {condition} LIMIT $5), \
              matched AS (SELECT count(*) AS n FROM capped) \
         SELECT page.*, (SELECT n FROM matched) AS total FROM ( \
             (SELECT * FROM capped WHERE (SELECT n FROM matched) < $5 AND (SELECT n FROM matched) > $4 \
              {order} LIMIT $3 OFFSET $4) \
             UNION ALL \
             (SELECT * FROM capped WHERE (SELECT n FROM matched) >= $5 OR (SELECT n FROM matched) <= $4 \
              LIMIT 1)) AS page \
         {order}"
    )
}

/// The page of a search with more matches than the count ceiling (`$1` the account, `$2` the pattern, `$3` the
/// limit, `$4` the offset): read along the sort order's index with a filter no index answers
/// ([`SEARCH_FILTER`]): given a trigram index to use, the planner would rather collect and sort every match.
pub(super) fn broad_search_page_sql(sort: ContactSort) -> String {
    let (order, ..) = page_order(sort);
    format!("SELECT contacts.* FROM contacts WHERE account_id = $1 AND {SEARCH_FILTER} {order} LIMIT $3 OFFSET $4")
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use application::ports::{ContactQuery, ContactSort, ContactSortKey, Database};
    use diesel::sql_types::{BigInt, Text};
    use diesel::{QueryableByName, RunQueryDsl};
    use domain::AccountId;

    use crate::store::contacts::pages::{contacts_page_sql, page_order};
    use crate::testing::{plan_of, TestDatabase};

    const SORTS: [ContactSortKey; 5] = [
        ContactSortKey::Name,
        ContactSortKey::Email,
        ContactSortKey::PhoneNumber,
        ContactSortKey::LastActivityAt,
        ContactSortKey::CreatedAt,
    ];

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }

    /// Every page of every order, from the start and from the end, in both parts: the same contacts as a plain
    /// sort of the account with the same OFFSET, and the same count. 200 contacts: names repeat (ties broken by
    /// id), a quarter have no email, a fifth no phone number, a third no activity; another account's contacts
    /// never show.
    #[test]
    fn every_page_of_every_order_is_the_sorted_accounts_page() {
        let db = TestDatabase::new();
        let mut conn = db.connection();
        let pg = db.pool(2);
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a'), ('b')").execute(&mut conn).expect("accounts");
        diesel::sql_query(
            "INSERT INTO contacts (account_id, name, email, phone_number, last_activity_at, created_at) \
             SELECT (SELECT min(id) FROM accounts) + g % 2, 'Name ' || (g * 7 % 13), \
                    CASE WHEN g % 4 <> 0 THEN 'p' || (g * 37 % 1000) || '@example.com' END, \
                    CASE WHEN g % 5 <> 0 THEN '+4930' || (g * 53 % 1000) END, \
                    CASE WHEN g % 3 <> 0 THEN now() - (g * 11 % 97) * interval '1 minute' END, \
                    now() - (g % 50) * interval '1 second' \
             FROM generate_series(1, 400) g",
        )
        .execute(&mut conn)
        .expect("contacts");
        let account: i64 =
            diesel::sql_query("SELECT min(id) AS id FROM accounts").get_result::<Id>(&mut conn).unwrap().id;
        for key in SORTS {
            for descending in [false, true] {
                let sort = ContactSort { key, descending };
                let (order, ..) = page_order(sort);
                for page in 0..16_u64 {
                    let offset = page * 15;
                    let expected: Vec<i64> = diesel::sql_query(format!(
                        "SELECT id FROM contacts WHERE account_id = $1 {order} LIMIT 15 OFFSET $2"
                    ))
                    .bind::<BigInt, _>(account)
                    .bind::<BigInt, _>(i64::try_from(offset).unwrap())
                    .load::<Id>(&mut conn)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                    let query = ContactQuery { search: None, sort, offset, limit: 15 };
                    let mut session = pg.begin().expect("begin");
                    let got = session.contacts_page(AccountId::new(account), &query).expect("page");
                    let ids: Vec<i64> = got.contacts.iter().map(|c| c.id.get()).collect();
                    assert_eq!(ids, expected, "{key:?} descending {descending}, offset {offset}");
                    assert_eq!(got.total, 200, "{key:?} descending {descending}, offset {offset}");
                }
            }
        }
    }

    /// Every order's pages, from the start and from the end, read their ids from the sort key's index (an
    /// index-only scan, or for email and phone numbers an index scan of their unique index), never scanning or
    /// sorting the account: the only sort is of the page's own rows. Each read's parts (a first part's count
    /// included) can be served by the index.
    #[test]
    fn every_order_is_read_from_its_index_from_either_end() {
        let db = TestDatabase::new();
        let mut conn = db.connection();
        diesel::sql_query("INSERT INTO accounts (name) VALUES ('a')").execute(&mut conn).expect("account");
        diesel::sql_query(
            "INSERT INTO contacts (account_id, name, email, phone_number, last_activity_at) \
             SELECT (SELECT min(id) FROM accounts), 'Name ' || g, \
                    CASE WHEN g % 4 <> 0 THEN 'p' || g || '@example.com' END, \
                    CASE WHEN g % 5 <> 0 THEN '+4930' || g END, \
                    CASE WHEN g % 3 = 0 THEN now() - g * interval '1 minute' END \
             FROM generate_series(1, 5000) g",
        )
        .execute(&mut conn)
        .expect("contacts");
        diesel::sql_query("VACUUM ANALYZE contacts").execute(&mut conn).expect("analyze");
        // 5,000 contacts are few enough that a scan can look cheaper than an index to the planner (it would not
        // at 1,000,000, measured in `make bench`); what is checked is that an index serves every read
        diesel::sql_query("SET enable_seqscan = off").execute(&mut conn).expect("set");
        for key in SORTS {
            let index = match key {
                ContactSortKey::Name => "contacts_account_name_idx",
                ContactSortKey::Email => "contacts_email_key",
                ContactSortKey::PhoneNumber => "contacts_phone_number_key",
                ContactSortKey::LastActivityAt => "contacts_account_last_activity_idx",
                ContactSortKey::CreatedAt => "contacts_account_created_idx",
            };
            for descending in [false, true] {
                let sort = ContactSort { key, descending };
                for offset in [30_i64, 2_600] {
                    let plan = plan_of(&mut conn, &contacts_page_sql(false, sort, 0), |explain| {
                        explain
                            .bind::<BigInt, _>(1_i64)
                            .bind::<Text, _>("")
                            .bind::<BigInt, _>(15_i64)
                            .bind::<BigInt, _>(offset)
                            .bind::<BigInt, _>(10_001_i64)
                    })
                    .join("\n");
                    let what = format!("{key:?} descending {descending}, offset {offset}");
                    assert!(plan.contains(&format!("using {index} ")), "{what} should read {index}:\n{plan}");
                    assert!(!plan.contains("Seq Scan"), "{what} scans the account:\n{plan}");
                    // a sort, if any, is the page's: above the join of the page's ids with their rows (email and
                    // phone number orders break their ties by id with an incremental sort of the index's order,
                    // whose groups are single contacts but for those without a value)
                    let nodes = |names: &[&str]| -> Vec<usize> {
                        plan.lines()
                            .filter(|l| {
                                names
                                    .iter()
                                    .any(|n| l.trim_start().trim_start_matches("->").trim_start().starts_with(n))
                            })
                            .map(indent)
                            .collect()
                    };
                    let (sorts, joins) = (nodes(&["Sort  ("]), nodes(&["Nested Loop", "Hash Join", "Merge Join"]));
                    assert!(!joins.is_empty(), "{what}: no join of the page's ids with their rows:\n{plan}");
                    assert!(
                        sorts.iter().all(|s| joins.iter().all(|j| s < j)),
                        "{what} sorts more than the page:\n{plan}"
                    );
                }
            }
        }
    }

    fn indent(line: &str) -> usize {
        line.len() - line.trim_start().len()
    }
}
