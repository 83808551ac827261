//! Robustness: arbitrary statement text (random token soup and mutations of valid
//! statements) must produce a result or a typed error, never a panic, and leave the
//! database usable.

use std::sync::Arc;

use proptest::prelude::*;
use sluice_planner::{Database, Session};

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "ORDER",
    "LIMIT",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TABLE",
    "MATERIALIZED",
    "VIEW",
    "DROP",
    "JOIN",
    "LEFT",
    "FULL",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "DISTINCT",
    "UNION",
    "ALL",
    "count(*)",
    "sum(v)",
    "min(s)",
    "t",
    "u",
    "v",
    "k",
    "s",
    "(",
    ")",
    ",",
    ";",
    "=",
    "<",
    "+",
    "*",
    "/",
    "1",
    "0",
    "-1",
    "'x'",
    "''",
    "1.5",
    "$1",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "CAST",
    "INT",
    "TEXT",
    "PRIMARY",
    "KEY",
    "EXISTS",
    "IN",
    "HAVING",
    "OVER",
    "::",
    "[",
    "]",
    "interval '1 day'",
    "ARRAY[1,2]",
    "TRUE",
    "\"q\"",
    "BEGIN",
    "COMMIT",
    "SHOW",
    "ALL",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..25).prop_map(|t| t.join(" "))
}

const VALID: &[&str] = &[
    "INSERT INTO t VALUES (1, 'a', 2)",
    "UPDATE t SET v = v + 1 WHERE k = 1",
    "DELETE FROM t WHERE s = 'a'",
    "CREATE MATERIALIZED VIEW mv AS SELECT s, count(*) AS n FROM t GROUP BY s",
    "SELECT k, v FROM t ORDER BY k LIMIT 3",
    "SELECT t.k, u.k FROM t FULL JOIN u ON t.k = u.k",
];

fn mutated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(VALID),
        any::<usize>(),
        any::<usize>(),
        prop::sample::select(TOKENS),
    )
        .prop_map(|(sql, a, b, token)| {
            let chars: Vec<char> = sql.chars().collect();
            let cut = a % (chars.len() + 1);
            let keep = b % (chars.len() + 1);
            let (lo, hi) = if cut <= keep {
                (cut, keep)
            } else {
                (keep, cut)
            };
            let mut out: String = chars[..lo].iter().collect();
            out.push(' ');
            out.push_str(token);
            out.push(' ');
            out.extend(chars[hi..].iter());
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_statement_text_is_answered_without_panicking(
        statements in prop::collection::vec(prop_oneof![soup(), mutated()], 1..6)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let database = Database::new();
            let mut session = Session::new(Arc::clone(&database));
            let (_, error) = session
                .execute("CREATE TABLE t (k INT PRIMARY KEY, s TEXT, v INT); CREATE TABLE u (k INT PRIMARY KEY, w INT); INSERT INTO t VALUES (5, 'b', 1)")
                .await;
            assert!(error.is_none());
            for statement in &statements {
                let (_, error) = session.execute(statement).await;
                if let Some(error) = error {
                    // Every error carries a five-character SQLSTATE.
                    assert_eq!(error.sqlstate().len(), 5, "{statement}: {error}");
                }
            }
            // A generated BEGIN followed by a failing statement leaves the session in an
            // aborted transaction (25P02 until it ends): end it, as a client would.
            let (_, error) = session.execute("ROLLBACK").await;
            assert!(error.is_none(), "ROLLBACK: {error:?}");
            // The database still answers (t may have been dropped by a generated statement).
            let (results, error) = session.execute("SELECT count(*) FROM t").await;
            match error {
                None => assert_eq!(results.len(), 1),
                Some(error) => assert_eq!(error.sqlstate(), "42P01", "{error}"),
            }
        });
    }
}
