//! Property test: every maintained view equals its batch recomputation.
//!
//! Random sequences of INSERT / UPDATE / DELETE run against base tables that feed many
//! materialized views (joins of every type, aggregates, DISTINCT, UNION ALL, subqueries,
//! views on views). After the sequence, each view's contents must equal the result of
//! running its defining query from scratch with DataFusion over the final tables.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use sluice_planner::{Database, Session, StatementResult};

/// (name, query) of every view under test; later views may read earlier ones.
const VIEWS: &[(&str, &str)] = &[
    ("v_filter", "SELECT k, v * 2 AS v2, upper(s) AS s FROM l WHERE v > 3 OR s = 'a'"),
    ("v_case", "SELECT k, CASE WHEN v IS NULL THEN -1 WHEN v < 5 THEN 0 ELSE 1 END AS c, coalesce(g, 99) AS g FROM l"),
    ("v_inner", "SELECT l.k, r.k AS rk, l.v, r.w FROM l JOIN r ON l.g = r.g"),
    ("v_left", "SELECT l.k, r.k AS rk, r.w FROM l LEFT JOIN r ON l.g = r.g"),
    ("v_right", "SELECT l.k, r.k AS rk FROM l RIGHT JOIN r ON l.g = r.g"),
    ("v_full", "SELECT l.k, r.k AS rk FROM l FULL JOIN r ON l.g = r.g"),
    ("v_left_residual", "SELECT l.k, r.k AS rk FROM l LEFT JOIN r ON l.g = r.g AND r.w > l.v"),
    ("v_full_residual", "SELECT l.k, r.k AS rk FROM l FULL JOIN r ON l.g = r.g AND r.w < l.v"),
    ("v_self", "SELECT a.k, b.k AS bk FROM l a JOIN l b ON a.g = b.g AND a.k < b.k"),
    // The same aggregate on both sides of a join (Nexmark q5's shape): built once, shared.
    ("v_shared_agg", "SELECT a.g, a.n FROM (SELECT g, count(*) AS n FROM l GROUP BY g) a JOIN (SELECT max(n) AS top FROM (SELECT g, count(*) AS n FROM l GROUP BY g) b) t ON a.n >= t.top"),
    ("v_semi", "SELECT k, v FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.g = l.g)"),
    ("v_anti", "SELECT k, v FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.g = l.g AND r.w > 2)"),
    ("v_agg", "SELECT g, count(*) AS n, count(v) AS nv, sum(v) AS sv, min(v) AS lo, max(v) AS hi, avg(v) AS av FROM l GROUP BY g"),
    ("v_agg_text", "SELECT g, min(s) AS lo, max(s) AS hi, count(DISTINCT s) AS ds, string_agg(s, ',' ORDER BY s) AS all_s FROM l GROUP BY g"),
    ("v_global", "SELECT count(*) AS n, sum(v) AS sv, max(v) AS hi, count(DISTINCT g) AS dg FROM l"),
    ("v_having", "SELECT g, sum(v) AS sv FROM l GROUP BY g HAVING count(*) > 1"),
    ("v_distinct", "SELECT DISTINCT g, s FROM l"),
    ("v_union", "SELECT g, v FROM l UNION ALL SELECT g, w FROM r UNION ALL SELECT g, v FROM m"),
    ("v_union_distinct", "SELECT g FROM l UNION SELECT g FROM r"),
    ("v_subquery", "SELECT t.g, t.total * 10 AS t10 FROM (SELECT g, sum(v) AS total FROM l GROUP BY g) t WHERE t.total > 2"),
    ("v_multiset", "SELECT g, count(*) AS n, sum(v) AS sv FROM m GROUP BY g"),
    ("v_join_agg", "SELECT r.g, count(*) AS n, sum(l.v) AS sv, max(r.w) AS mw FROM l JOIN r ON l.g = r.g GROUP BY r.g"),
    // Created over existing rows, the left rows first make groups the right rows update.
    ("v_left_join_agg", "SELECT l.g, count(*) AS n, sum(r.w) AS sw FROM l LEFT JOIN r ON l.g = r.g GROUP BY l.g"),
    ("v_level2", "SELECT n, count(*) AS groups FROM v_agg GROUP BY n"),
    ("v_level3", "SELECT v_level2.n, v_level2.groups, v_global.n AS total FROM v_level2 CROSS JOIN v_global"),
    ("v_filtered_agg", "SELECT g, count(*) FILTER (WHERE v > 4) AS big, sum(v) FILTER (WHERE s <> 'a') AS sa FROM l GROUP BY g"),
    ("v_array_agg", "SELECT g, array_agg(k ORDER BY k) AS ks FROM l GROUP BY g"),
    ("v_top", "SELECT k, v FROM l ORDER BY v DESC NULLS LAST, k LIMIT 3"),
    ("v_top_offset", "SELECT k, g FROM l ORDER BY k LIMIT 2 OFFSET 1"),
    ("v_top_multiset", "SELECT g, v FROM m ORDER BY g NULLS FIRST, v NULLS FIRST LIMIT 4"),
    ("v_row_number", "SELECT k, g, rn FROM (SELECT k, g, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC NULLS LAST, k) AS rn FROM l) t WHERE rn <= 2"),
    ("v_dedup", "SELECT k, s FROM (SELECT k, s, ROW_NUMBER() OVER (PARTITION BY s ORDER BY k DESC) AS rn FROM l) t WHERE rn = 1"),
    ("v_top_groups", "SELECT g, count(*) AS n FROM l GROUP BY g ORDER BY n DESC, g NULLS FIRST LIMIT 2"),
];

#[derive(Debug, Clone)]
enum Op {
    InsertL {
        k: i32,
        g: Option<i32>,
        v: Option<i32>,
        s: Option<&'static str>,
    },
    InsertR {
        k: i32,
        g: Option<i32>,
        w: Option<i32>,
    },
    InsertM {
        g: Option<i32>,
        v: Option<i32>,
    },
    UpdateL {
        k: i32,
        v: Option<i32>,
        g: Option<i32>,
    },
    UpdateR {
        k: i32,
        w: Option<i32>,
    },
    DeleteL {
        k: i32,
    },
    DeleteR {
        k: i32,
    },
    DeleteM {
        g: Option<i32>,
    },
    UpdateLWhere {
        below: i32,
    },
}

fn small() -> impl Strategy<Value = Option<i32>> {
    prop_oneof![1 => Just(None), 6 => (0..6i32).prop_map(Some)]
}

fn text() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![1 => Just(None), 4 => prop::sample::select(vec!["a", "b", "c"]).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12i32, small(), small(), text()).prop_map(|(k, g, v, s)| Op::InsertL { k, g, v, s }),
        3 => (0..8i32, small(), small()).prop_map(|(k, g, w)| Op::InsertR { k, g, w }),
        2 => (small(), small()).prop_map(|(g, v)| Op::InsertM { g, v }),
        2 => (0..12i32, small(), small()).prop_map(|(k, v, g)| Op::UpdateL { k, v, g }),
        2 => (0..8i32, small()).prop_map(|(k, w)| Op::UpdateR { k, w }),
        2 => (0..12i32).prop_map(|k| Op::DeleteL { k }),
        1 => (0..8i32).prop_map(|k| Op::DeleteR { k }),
        1 => small().prop_map(|g| Op::DeleteM { g }),
        1 => (0..6i32).prop_map(|below| Op::UpdateLWhere { below }),
    ]
}

fn lit<T: std::fmt::Display>(value: Option<T>) -> String {
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|| "NULL".into())
}

fn text_lit(value: Option<&str>) -> String {
    value
        .map(|v| format!("'{v}'"))
        .unwrap_or_else(|| "NULL".into())
}

fn eq_or_null(column: &str, value: Option<i32>) -> String {
    match value {
        Some(v) => format!("{column} = {v}"),
        None => format!("{column} IS NULL"),
    }
}

fn sql(op: &Op) -> String {
    match op {
        Op::InsertL { k, g, v, s } => format!(
            "INSERT INTO l VALUES ({k}, {}, {}, {})",
            lit(*g),
            lit(*v),
            text_lit(*s)
        ),
        Op::InsertR { k, g, w } => format!("INSERT INTO r VALUES ({k}, {}, {})", lit(*g), lit(*w)),
        Op::InsertM { g, v } => format!("INSERT INTO m VALUES ({}, {})", lit(*g), lit(*v)),
        Op::UpdateL { k, v, g } => format!(
            "UPDATE l SET v = {}, g = {} WHERE k = {k}",
            lit(*v),
            lit(*g)
        ),
        Op::UpdateR { k, w } => format!("UPDATE r SET w = {} WHERE k = {k}", lit(*w)),
        Op::DeleteL { k } => format!("DELETE FROM l WHERE k = {k}"),
        Op::DeleteR { k } => format!("DELETE FROM r WHERE k = {k}"),
        Op::DeleteM { g } => format!("DELETE FROM m WHERE {}", eq_or_null("g", *g)),
        Op::UpdateLWhere { below } => format!("UPDATE l SET v = v + 1 WHERE v < {below}"),
    }
}

/// Rows of a result as sorted display strings (a multiset).
fn rows(result: &StatementResult) -> Vec<String> {
    let StatementResult::Query { batches, .. } = result else {
        panic!("expected rows, got {result:?}");
    };
    common::sorted_rows(batches, " | ")
}

async fn run(session: &mut Session, statement: &str) -> Vec<StatementResult> {
    let (results, error) = session.execute(statement).await;
    if let Some(error) = error {
        panic!("{statement}: {error}");
    }
    results
}

async fn check_views(session: &mut Session, context: &str) {
    for (name, query) in VIEWS {
        let maintained = run(session, &format!("SELECT * FROM {name}")).await;
        let recomputed = run(session, query).await;
        assert_eq!(
            rows(&maintained[0]),
            rows(&recomputed[0]),
            "view {name} differs from its batch result {context}"
        );
    }
}

/// `workers`: instances of each keyed operator (1: the sequential path; more: rows exchanged
/// between instances by key, which must not change any result).
async fn scenario(ops: Vec<Op>, views_first: bool, workers: usize) {
    let database = Database::new();
    database.set_workers(workers).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE l (k INT PRIMARY KEY, g INT, v INT, s TEXT)",
    )
    .await;
    run(
        &mut session,
        "CREATE TABLE r (k INT PRIMARY KEY, g INT, w INT)",
    )
    .await;
    run(&mut session, "CREATE TABLE m (g INT, v INT)").await;
    if views_first {
        for (name, query) in VIEWS {
            run(
                &mut session,
                &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
            )
            .await;
        }
        check_views(&mut session, "on empty tables").await;
    }
    for (index, op) in ops.iter().enumerate() {
        // Errors such as duplicate keys are expected: the statement must then change nothing.
        let (_, _error) = session.execute(&sql(op)).await;
        if views_first && index % 7 == 6 {
            check_views(&mut session, &format!("after op {index}: {}", sql(op))).await;
        }
    }
    if !views_first {
        for (name, query) in VIEWS {
            run(
                &mut session,
                &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
            )
            .await;
        }
    }
    check_views(&mut session, "at the end").await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn maintained_views_equal_batch_recomputation(
        ops in prop::collection::vec(op(), 1..60),
        workers in 1usize..4,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(scenario(ops, true, workers));
    }

    #[test]
    fn views_created_over_existing_data_equal_batch_recomputation(
        ops in prop::collection::vec(op(), 1..40),
        workers in 1usize..4,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(scenario(ops, false, workers));
    }
}
