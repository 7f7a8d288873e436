//! [`Prepared`]: keeps statements prepared that diesel would parse and plan on every execution.
//!
//! Diesel keeps a prepared statement per connection for most queries, but never for an `UPDATE` or for raw SQL
//! (`sql_query`): it cannot know that their text is bounded. Ours is: each statement below has one fixed text
//! (the changesets set every column, the raw SQL is a constant). Wrapped in [`Prepared`], such a statement is
//! cached by its SQL text like diesel's other queries, and PostgreSQL parses and plans it once per connection
//! instead of once per request. Seven of the merge's statements (and the authentication lookup of every
//! request) are of this kind; see the benchmark (README, "Benchmark") for what it buys.
//!
//! Only wrap a statement whose SQL text never varies with its arguments, or the cache grows without bound.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement diesel may cache as a named prepared statement, keyed by its SQL text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<Q>(pub(crate) Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the cache key is the SQL text (with the bind types), as for diesel's own dynamic queries.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}
