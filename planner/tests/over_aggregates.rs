//! OVER aggregates (`agg(x) OVER (PARTITION BY .. ORDER BY .. [frame])`, LAG/LEAD, RANK) in
//! materialized views: a property test feeding random inserts, updates (which move rows
//! within and between partitions) and deletes, comparing every view with DataFusion's batch
//! execution of its query; plus CROSS JOIN UNNEST of arrays of rows, and the errors.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use sluice_planner::{Database, Session, StatementResult};

/// (name, query) of every view under test. ROWS frames and LAG/LEAD order by a unique key
/// (`t, id`): among ORDER BY peers their batch result would depend on the input order.
const VIEWS: &[(&str, &str)] = &[
    ("w_running", "SELECT id, k, t, x, \
        SUM(x) OVER (PARTITION BY k ORDER BY t) AS s, \
        COUNT(*) OVER (PARTITION BY k ORDER BY t) AS n, \
        COUNT(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS nx, \
        MIN(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS lo, \
        MAX(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi, \
        AVG(x) OVER (PARTITION BY k ORDER BY t) AS av FROM e"),
    ("w_range", "SELECT id, \
        SUM(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) AS s, \
        COUNT(*) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) AS n, \
        MIN(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) AS lo, \
        MAX(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) AS hi, \
        AVG(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) AS av FROM e"),
    ("w_range_desc", "SELECT id, \
        MAX(x) OVER (PARTITION BY k ORDER BY t DESC RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS hi FROM e"),
    ("w_rows", "SELECT id, \
        SUM(x) OVER (PARTITION BY k ORDER BY t, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s, \
        MIN(x) OVER (PARTITION BY k ORDER BY t, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS lo, \
        LAG(x) OVER (PARTITION BY k ORDER BY t, id) AS prev, \
        LAG(x, 2, -1) OVER (PARTITION BY k ORDER BY t, id) AS prev2, \
        LEAD(x) OVER (PARTITION BY k ORDER BY t, id) AS next FROM e"),
    ("w_following", "SELECT id, \
        SUM(x) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN 1 PRECEDING AND 2 FOLLOWING) AS s, \
        MAX(x) OVER (PARTITION BY k ORDER BY t, id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS hi, \
        COUNT(*) OVER (PARTITION BY k ORDER BY t RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS rest FROM e"),
    ("w_ranking", "SELECT id, \
        FIRST_VALUE(x) OVER (PARTITION BY k ORDER BY t, id) AS first, \
        DENSE_RANK() OVER (PARTITION BY k ORDER BY t) AS dr, \
        ROW_NUMBER() OVER (PARTITION BY k ORDER BY t, id) AS rn FROM e"),
    ("w_global", "SELECT id, SUM(x) OVER (ORDER BY t) AS s, RANK() OVER (ORDER BY t) AS r FROM e"),
    ("w_whole_partition", "SELECT id, COUNT(*) OVER (PARTITION BY k) AS n FROM e"),
    ("w_filtered", "SELECT id, k FROM (SELECT id, k, x, \
        MAX(x) OVER (PARTITION BY k ORDER BY t) AS m FROM e) s WHERE x >= m"),
];

#[derive(Debug, Clone)]
enum Op {
    Insert {
        id: i32,
        k: Option<i32>,
        t: Option<i32>,
        x: Option<i32>,
    },
    MoveTime {
        id: i32,
        t: Option<i32>,
    },
    SetValue {
        id: i32,
        x: Option<i32>,
    },
    MovePartition {
        id: i32,
        k: Option<i32>,
    },
    Delete {
        id: i32,
    },
}

fn small(range: std::ops::Range<i32>) -> impl Strategy<Value = Option<i32>> {
    prop_oneof![1 => Just(None), 8 => range.prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..16i32, small(0..3), small(0..10), small(-5..10))
            .prop_map(|(id, k, t, x)| Op::Insert { id, k, t, x }),
        2 => (0..16i32, small(0..10)).prop_map(|(id, t)| Op::MoveTime { id, t }),
        2 => (0..16i32, small(-5..10)).prop_map(|(id, x)| Op::SetValue { id, x }),
        1 => (0..16i32, small(0..3)).prop_map(|(id, k)| Op::MovePartition { id, k }),
        2 => (0..16i32).prop_map(|id| Op::Delete { id }),
    ]
}

fn lit(value: Option<i32>) -> String {
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|| "NULL".into())
}

fn sql(op: &Op) -> String {
    match op {
        Op::Insert { id, k, t, x } => format!(
            "INSERT INTO e VALUES ({id}, {}, {}, {})",
            lit(*k),
            lit(*t),
            lit(*x)
        ),
        Op::MoveTime { id, t } => format!("UPDATE e SET t = {} WHERE id = {id}", lit(*t)),
        Op::SetValue { id, x } => format!("UPDATE e SET x = {} WHERE id = {id}", lit(*x)),
        Op::MovePartition { id, k } => format!("UPDATE e SET k = {} WHERE id = {id}", lit(*k)),
        Op::Delete { id } => format!("DELETE FROM e WHERE id = {id}"),
    }
}

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

async fn create_views(session: &mut Session) {
    for (name, query) in VIEWS {
        run(
            session,
            &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
        )
        .await;
    }
}

/// Held by a scenario from setting the process-wide spill budget until its last check: the
/// two property tests run in parallel, and each must create its operators with its own
/// budget.
static BUDGET: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// With `spill`, operators get a memory budget of 1 byte: every partition goes to disk after
/// each batch and is read back by the next change to it.
async fn scenario(ops: Vec<Op>, views_first: bool, workers: usize, spill: bool) {
    // The budget is process-wide and read when an operator is created (the other tests of
    // this binary are indifferent to it).
    sluice_storage::spill::configure(sluice_storage::SpillSettings {
        budget_bytes: spill.then_some(1),
        total_bytes: None,
        dir: None,
    });
    let database = Database::new();
    database.set_workers(workers).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE e (id INT PRIMARY KEY, k INT, t INT, x INT)",
    )
    .await;
    if views_first {
        create_views(&mut session).await;
    }
    for (index, op) in ops.iter().enumerate() {
        // Duplicate keys fail and change nothing.
        let (_, _error) = session.execute(&sql(op)).await;
        if views_first && index % 5 == 4 {
            check_views(&mut session, &format!("after op {index}: {}", sql(op))).await;
        }
    }
    if !views_first {
        create_views(&mut session).await;
    }
    check_views(&mut session, "at the end").await;
    if spill {
        let held = run(&mut session, "SELECT count(*) FROM e").await;
        let on_disk = run(
            &mut session,
            "SELECT coalesce(sum(spilled_entries), 0) FROM sluice_queries",
        )
        .await;
        if rows(&held[0]) != ["0"] {
            assert_ne!(rows(&on_disk[0]), ["0"], "no partition on disk");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn over_aggregates_equal_batch_recomputation(
        ops in prop::collection::vec(op(), 1..50),
        workers in 1usize..3,
        spill in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _budget = BUDGET.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        runtime.block_on(scenario(ops, true, workers, spill));
    }

    #[test]
    fn over_aggregates_over_existing_rows_equal_batch_recomputation(
        ops in prop::collection::vec(op(), 1..40),
        spill in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _budget = BUDGET.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        runtime.block_on(scenario(ops, false, 1, spill));
    }
}

/// Many rows in one statement, several changes per partition in one batch.
#[tokio::test]
async fn batches_with_many_changes_per_partition() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE e (id INT PRIMARY KEY, k INT, t INT, x INT)",
    )
    .await;
    create_views(&mut session).await;
    let values: Vec<String> = (0..60)
        .map(|i| format!("({i}, {}, {}, {})", i % 3, (i * 7) % 11, (i * 5) % 13 - 4))
        .collect();
    run(
        &mut session,
        &format!("INSERT INTO e VALUES {}", values.join(", ")),
    )
    .await;
    check_views(&mut session, "after a bulk insert").await;
    run(&mut session, "UPDATE e SET t = t + 2 WHERE id % 4 = 1").await;
    check_views(&mut session, "after moving rows in time").await;
    run(&mut session, "DELETE FROM e WHERE x < 0").await;
    check_views(&mut session, "after a bulk delete").await;
}

/// CROSS JOIN UNNEST of an array of rows: one column per field, the alias's column list
/// renames them, and the view follows inserts and deletes of the outer rows.
#[tokio::test]
async fn unnest_of_an_array_of_rows() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE orders (id INT, entries ARRAY<ROW<productid BIGINT, quantity BIGINT>>, \
         PRIMARY KEY (id) NOT ENFORCED)",
    )
    .await;
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW by_field AS SELECT o.id, e.productid, e.quantity \
         FROM orders AS o CROSS JOIN UNNEST(entries) AS e",
    )
    .await;
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW bare AS SELECT id, productid * 10 AS p FROM orders \
         CROSS JOIN UNNEST(entries)",
    )
    .await;
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW renamed AS SELECT id, p, q FROM orders \
         CROSS JOIN UNNEST(entries) AS t(p, q)",
    )
    .await;
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW totals AS SELECT id, SUM(quantity) AS total FROM orders \
         CROSS JOIN UNNEST(entries) GROUP BY id",
    )
    .await;
    run(
        &mut session,
        "INSERT INTO orders VALUES (1, [named_struct('productid', 7, 'quantity', 2), \
         named_struct('productid', 8, 'quantity', 3)]), (2, [named_struct('productid', 9, 'quantity', 1)]), \
         (3, [])",
    )
    .await;
    let by_field = common::query_rows(&mut session, "SELECT * FROM by_field").await;
    assert_eq!(by_field, vec!["1|7|2", "1|8|3", "2|9|1"]);
    let bare = common::query_rows(&mut session, "SELECT * FROM bare").await;
    assert_eq!(bare, vec!["1|70", "1|80", "2|90"]);
    let renamed = common::query_rows(&mut session, "SELECT * FROM renamed").await;
    assert_eq!(renamed, vec!["1|7|2", "1|8|3", "2|9|1"]);
    // The comma form, JOIN .. ON TRUE, and a MAP (entries as (key, value) rows).
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW comma AS SELECT o.id, e.quantity FROM orders AS o, \
         UNNEST(o.entries) AS e",
    )
    .await;
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW on_true AS SELECT id, e.productid FROM orders \
         JOIN UNNEST(entries) AS e ON TRUE",
    )
    .await;
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW mapped AS SELECT id, m.k, m.v FROM orders \
         CROSS JOIN UNNEST(map(['a', 'b'], [1, 2])) AS m(k, v)",
    )
    .await;
    let comma = common::query_rows(&mut session, "SELECT * FROM comma").await;
    assert_eq!(comma, vec!["1|2", "1|3", "2|1"]);
    let on_true = common::query_rows(&mut session, "SELECT * FROM on_true").await;
    assert_eq!(on_true, vec!["1|7", "1|8", "2|9"]);
    let mapped = common::query_rows(&mut session, "SELECT * FROM mapped").await;
    assert_eq!(
        mapped,
        vec!["1|a|1", "1|b|2", "2|a|1", "2|b|2", "3|a|1", "3|b|2"]
    );
    run(&mut session, "DELETE FROM orders WHERE id = 1").await;
    let totals = common::query_rows(&mut session, "SELECT * FROM totals").await;
    assert_eq!(totals, vec!["2|1"]);
    // The ad-hoc (batch) query agrees with the view.
    let batch = common::query_rows(
        &mut session,
        "SELECT o.id, e.productid, e.quantity FROM orders AS o CROSS JOIN UNNEST(entries) AS e",
    )
    .await;
    assert_eq!(batch, vec!["2|9|1"]);
}

#[tokio::test]
async fn window_functions_with_different_partitions_in_one_select() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE e (id INT PRIMARY KEY, k INT, t INT, x INT)",
    )
    .await;
    // Different PARTITION BY in one SELECT: DataFusion plans a window node per
    // PARTITION BY/ORDER BY, each an operator.
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW two AS SELECT id, SUM(x) OVER (PARTITION BY k ORDER BY t) AS a, \
         SUM(x) OVER (ORDER BY t) AS b FROM e",
    )
    .await;
    run(
        &mut session,
        "INSERT INTO e VALUES (1, 1, 1, 5), (2, 2, 2, 7)",
    )
    .await;
    // EXPLAIN shows the operator with its partitioning, order and frames.
    let explained = common::query_rows(
        &mut session,
        "EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT id, \
         SUM(x) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM e",
    )
    .await
    .join("\n");
    assert!(
        explained.contains("OverAggregate") && explained.contains("ROWS BETWEEN 2 PRECEDING"),
        "{explained}"
    );
    let rows = common::query_rows(&mut session, "SELECT * FROM two").await;
    assert_eq!(rows, vec!["1|5|5", "2|7|12"]);
}
