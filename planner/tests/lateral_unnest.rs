//! `LEFT JOIN UNNEST(arr) ON TRUE` (Flink's left lateral join with a table function): every
//! left row appears, a NULL or empty array as one row whose unnested columns are NULL. A
//! property test applies random inserts, updates and deletes of rows with NULL, empty and
//! non-empty arrays (of scalars and of rows) and compares the materialized views, and the
//! batch queries, with rows computed here from the table's contents (an oracle independent
//! of the planner's rewrite), with 1 or 2 workers.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{query_rows as rows, run};
use proptest::prelude::*;
use sluice_planner::{Database, Session};

/// A row of `orders`: tags (a NULL, empty or short array) and entries (array of rows).
#[derive(Debug, Clone)]
struct Order {
    tags: Option<Vec<&'static str>>,
    entries: Option<Vec<(i64, i64)>>,
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(i32, Order),
    Delete(i32),
}

fn order() -> impl Strategy<Value = Order> {
    let tags = prop::option::of(prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c"]),
        0..3,
    ));
    let entries = prop::option::of(prop::collection::vec((0i64..4, 0i64..9), 0..3));
    (tags, entries).prop_map(|(tags, entries)| Order { tags, entries })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i32..6, order()).prop_map(|(id, order)| Op::Upsert(id, order)),
        1 => (0i32..6).prop_map(Op::Delete),
    ]
}

fn array_literal<T>(items: &Option<Vec<T>>, item: impl Fn(&T) -> String) -> String {
    match items {
        None => "NULL".into(),
        Some(items) => format!(
            "[{}]",
            items.iter().map(item).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn statement(op: &Op) -> String {
    match op {
        Op::Upsert(id, order) => {
            // The element types are spelled out so an empty or NULL array has them too.
            let tags = match &order.tags {
                Some(tags) if tags.is_empty() => "CAST([] AS VARCHAR[])".to_string(),
                Some(_) => array_literal(&order.tags, |t| format!("'{t}'")),
                None => "CAST(NULL AS VARCHAR[])".to_string(),
            };
            let entries = match &order.entries {
                Some(entries) if entries.is_empty() => "[]".to_string(),
                _ => array_literal(&order.entries, |(p, q)| {
                    format!("named_struct('p', CAST({p} AS BIGINT), 'q', CAST({q} AS BIGINT))")
                }),
            };
            // Replaces the row if there is one (a retraction, then the new row).
            format!(
                "DELETE FROM orders WHERE id = {id}; INSERT INTO orders VALUES ({id}, {tags}, {entries})"
            )
        }
        Op::Delete(id) => format!("DELETE FROM orders WHERE id = {id}"),
    }
}

const TAGS: &str = "SELECT o.id, t.tag FROM orders AS o LEFT JOIN UNNEST(o.tags) AS t(tag) ON TRUE";
const ENTRIES: &str =
    "SELECT o.id, e.p, e.q FROM orders AS o LEFT JOIN UNNEST(o.entries) AS e ON TRUE";
const COUNTS: &str = "SELECT o.id, count(t.tag) AS n, count(*) AS r \
     FROM orders AS o LEFT JOIN UNNEST(o.tags) AS t(tag) ON TRUE GROUP BY o.id";

/// The expected rows of the three queries over `table`.
fn expected(table: &BTreeMap<i32, Order>) -> [Vec<String>; 3] {
    let mut tags = Vec::new();
    let mut entries = Vec::new();
    let mut counts = Vec::new();
    for (id, order) in table {
        match order.tags.as_deref() {
            Some(list) if !list.is_empty() => {
                tags.extend(list.iter().map(|t| format!("{id}|{t}")));
                counts.push(format!("{id}|{}|{}", list.len(), list.len()));
            }
            _ => {
                tags.push(format!("{id}|NULL"));
                counts.push(format!("{id}|0|1"));
            }
        }
        match order.entries.as_deref() {
            Some(list) if !list.is_empty() => {
                entries.extend(list.iter().map(|(p, q)| format!("{id}|{p}|{q}")));
            }
            _ => entries.push(format!("{id}|NULL|NULL")),
        }
    }
    for list in [&mut tags, &mut entries, &mut counts] {
        list.sort();
    }
    [tags, entries, counts]
}

async fn scenario(ops: Vec<Op>, workers: usize) {
    let database = Database::new();
    database.set_workers(workers).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE orders (id INT, tags ARRAY<STRING>, \
         entries ARRAY<ROW<p BIGINT, q BIGINT>>, PRIMARY KEY (id) NOT ENFORCED)",
    )
    .await;
    for (name, query) in [
        ("v_tags", TAGS),
        ("v_entries", ENTRIES),
        ("v_counts", COUNTS),
    ] {
        run(
            &mut session,
            &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
        )
        .await;
    }
    let mut table = BTreeMap::new();
    for op in &ops {
        run(&mut session, &statement(op)).await;
        match op {
            Op::Upsert(id, order) => {
                table.insert(*id, order.clone());
            }
            Op::Delete(id) => {
                table.remove(id);
            }
        }
        let expected = expected(&table);
        for (index, (name, query)) in [
            ("v_tags", TAGS),
            ("v_entries", ENTRIES),
            ("v_counts", COUNTS),
        ]
        .into_iter()
        .enumerate()
        {
            let view = rows(&mut session, &format!("SELECT * FROM {name}")).await;
            assert_eq!(view, expected[index], "view {name} after {}", statement(op));
            let batch = rows(&mut session, query).await;
            assert_eq!(
                batch,
                expected[index],
                "batch {query} after {}",
                statement(op)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn left_join_unnest_keeps_every_left_row(
        ops in prop::collection::vec(op(), 1..12),
        workers in 1usize..3,
    ) {
        common::block_on(scenario(ops, workers));
    }
}

#[tokio::test]
async fn explain_and_a_conditional_lateral_join() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE orders (id INT PRIMARY KEY, tags ARRAY<STRING>)",
    )
    .await;
    run(
        &mut session,
        "INSERT INTO orders VALUES (1, ['a', 'b']), (2, []), (3, NULL)",
    )
    .await;
    // The view's dataflow unnests keeping rows without elements.
    let plan = rows(
        &mut session,
        &format!("EXPLAIN CREATE MATERIALIZED VIEW v AS {TAGS}"),
    )
    .await
    .join("\n");
    assert!(plan.contains("NULL or empty list: one NULL row"), "{plan}");
    run(
        &mut session,
        &format!("CREATE MATERIALIZED VIEW v AS {TAGS}"),
    )
    .await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM v").await,
        vec!["1|a", "1|b", "2|NULL", "3|NULL"]
    );
    // A condition other than TRUE is not a lateral unnest: refused with a clear error.
    let (_, error) = session
        .execute(
            "SELECT o.id, t.tag FROM orders AS o LEFT JOIN UNNEST(o.tags) AS t(tag) ON t.tag = 'a'",
        )
        .await;
    let error = error.expect("a conditional lateral join is refused");
    assert_eq!(error.sqlstate().len(), 5, "{error}");
}
