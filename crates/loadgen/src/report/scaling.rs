//! The report's sections on one merge at a time: latency, statements and undos per size of the mergee, and the
//! statements PostgreSQL counted for the smallest size.

use std::fmt::Write as _;

use super::inputs::ScalingRow;

/// The scaling table: one row per size.
pub(super) fn table(scaling: &[ScalingRow]) -> String {
    let mut scale = String::new();
    let _ = writeln!(
        scale,
        "| conversations owned by the mergee | rows moved per merge | merges | latency p50 ms | max ms | statements per \
         merge | undos | undo p50 ms | undo max ms | statements per undo |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let count = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |s| format!("{s}"));
    for r in scaling {
        let f = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"));
        let _ = writeln!(
            scale,
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.size,
            r.rows_moved,
            r.merges,
            f(r.p50),
            f(r.max),
            count(r.statements),
            r.undos,
            f(r.undo_p50),
            f(r.undo_max),
            count(r.undo_statements)
        );
    }
    scale
}

/// The "Scaling" section around [`table`]'s table.
pub(super) fn section(scale: &str) -> String {
    format!(
        "## Scaling: one merge at a time, nothing else running\n\nEach mergee owns N conversations with one message \
         each; rows moved counts conversations and messages. Statements are counted by PostgreSQL \
         (pg_stat_statements, reset before each size): everything the service sent for the merges, including \
         authentication, the pool's checkout checks and transaction control. Then the same merges are undone, \
         one at a time, counted the same way.\n\n{scale}"
    )
}

/// The statements of the merges and of the undos of one size, as PostgreSQL counted them.
pub(super) fn statements(row: &ScalingRow) -> String {
    let mut md = statement_table("merge", row.merges, row.size, &row.statement_lines);
    md.push('\n');
    md.push_str(&statement_table("undo", row.undos, row.size, &row.undo_statement_lines));
    md
}

fn statement_table(what: &str, count: u64, size: u64, lines: &[(String, String)]) -> String {
    let mut md = format!(
        "## The statements of {count} {what}(s), as PostgreSQL counted them (size {size})\n\n| calls | statement \
         |\n|---:|---|\n"
    );
    for (calls, query) in lines {
        let mut q: String = query.chars().take(140).collect();
        if q.len() < query.len() {
            q.push('…');
        }
        let _ = writeln!(md, "| {calls} | `{}` |", q.replace('|', "\\|").replace('`', "'"));
    }
    md
}
