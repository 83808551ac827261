//! Subqueries in continuous queries: uncorrelated scalar subqueries (in WHERE and in the
//! select list) and `NOT IN (subquery)`, maintained by materialized views under random
//! inserts, updates and deletes of both tables (NULLs included), compared after every
//! statement with DataFusion's batch query and with rows computed here from the tables.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{query_rows as rows, run};
use proptest::prelude::*;
use sluice_planner::{Database, Session};

#[derive(Debug, Clone)]
enum Op {
    /// Order `id` with customer id (or NULL).
    Order(i32, Option<i32>),
    DeleteOrder(i32),
    /// Customer `name` with id (or NULL).
    Customer(&'static str, Option<i32>),
    DeleteCustomer(&'static str),
}

fn op() -> impl Strategy<Value = Op> {
    let name = prop::sample::select(vec!["foo", "bar", "baz"]);
    prop_oneof![
        3 => (0i32..6, prop::option::weighted(0.85, 0i32..5)).prop_map(|(id, c)| Op::Order(id, c)),
        1 => (0i32..6).prop_map(Op::DeleteOrder),
        2 => (name.clone(), prop::option::weighted(0.8, 0i32..5))
            .prop_map(|(n, c)| Op::Customer(n, c)),
        1 => name.prop_map(Op::DeleteCustomer),
    ]
}

fn sql_int(value: Option<i32>) -> String {
    value.map_or("NULL".into(), |v| v.to_string())
}

fn statement(op: &Op) -> String {
    match op {
        Op::Order(id, c) => format!(
            "DELETE FROM o WHERE id = {id}; INSERT INTO o VALUES ({id}, {})",
            sql_int(*c)
        ),
        Op::DeleteOrder(id) => format!("DELETE FROM o WHERE id = {id}"),
        Op::Customer(name, c) => format!(
            "DELETE FROM c WHERE name = '{name}'; INSERT INTO c VALUES ('{name}', {})",
            sql_int(*c)
        ),
        Op::DeleteCustomer(name) => format!("DELETE FROM c WHERE name = '{name}'"),
    }
}

const QUERIES: [(&str, &str); 4] = [
    (
        "above_foo",
        "SELECT o.id FROM o WHERE o.cid > (SELECT c.cid FROM c WHERE c.name = 'foo')",
    ),
    (
        "below_max",
        "SELECT o.id, (SELECT max(c.cid) FROM c) - o.cid AS gap FROM o",
    ),
    (
        "not_in",
        "SELECT o.id FROM o WHERE o.cid NOT IN (SELECT c.cid FROM c)",
    ),
    (
        "in_set",
        "SELECT o.id FROM o WHERE o.cid IN (SELECT c.cid FROM c)",
    ),
];

type Tables = (
    BTreeMap<i32, Option<i32>>,
    BTreeMap<&'static str, Option<i32>>,
);

/// The rows of each query in [`QUERIES`], computed from the tables.
fn expected((orders, customers): &Tables) -> Vec<Vec<String>> {
    let foo_id = customers.get("foo").copied().flatten();
    let max = customers.values().flatten().max().copied();
    let values: Vec<Option<i32>> = customers.values().copied().collect();
    let mut out = vec![Vec::new(); 4];
    for (id, cid) in orders {
        if let (Some(cid), Some(foo_id)) = (cid, foo_id) {
            if *cid > foo_id {
                out[0].push(id.to_string());
            }
        }
        let gap = match (max, cid) {
            (Some(max), Some(cid)) => (max - cid).to_string(),
            _ => "NULL".into(),
        };
        out[1].push(format!("{id}|{gap}"));
        // SQL's three-valued NOT IN: true only when no value equals and none is unknown.
        let not_in = values.is_empty()
            || cid.is_some_and(|cid| values.iter().all(|v| v.is_some_and(|v| v != cid)));
        if not_in {
            out[2].push(id.to_string());
        }
        if cid.is_some_and(|cid| values.contains(&Some(cid))) {
            out[3].push(id.to_string());
        }
    }
    for rows in &mut out {
        rows.sort();
    }
    out
}

async fn scenario(ops: Vec<Op>, workers: usize) {
    let database = Database::new();
    database.set_workers(workers).await;
    let mut s = Session::new(Arc::clone(&database));
    run(
        &mut s,
        "CREATE TABLE o (id INT PRIMARY KEY, cid INT); \
         CREATE TABLE c (name VARCHAR PRIMARY KEY, cid INT)",
    )
    .await;
    for (name, query) in QUERIES {
        run(
            &mut s,
            &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
        )
        .await;
    }
    let mut tables: Tables = Default::default();
    for op in &ops {
        run(&mut s, &statement(op)).await;
        match op {
            Op::Order(id, c) => {
                tables.0.insert(*id, *c);
            }
            Op::DeleteOrder(id) => {
                tables.0.remove(id);
            }
            Op::Customer(name, c) => {
                tables.1.insert(name, *c);
            }
            Op::DeleteCustomer(name) => {
                tables.1.remove(name);
            }
        }
        let expected = expected(&tables);
        for ((name, query), expected) in QUERIES.iter().zip(&expected) {
            let view = rows(&mut s, &format!("SELECT * FROM {name}")).await;
            assert_eq!(&view, expected, "view {name} after {}", statement(op));
            let batch = rows(&mut s, query).await;
            assert_eq!(&batch, expected, "batch {query} after {}", statement(op));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn subqueries_in_views_match_the_tables(
        ops in prop::collection::vec(op(), 1..16),
        workers in 1usize..3,
    ) {
        common::block_on(scenario(ops, workers));
    }
}

#[tokio::test]
async fn several_rows_fail_the_view() {
    let database = Database::new();
    let mut s = Session::new(Arc::clone(&database));
    run(
        &mut s,
        "CREATE TABLE o (id INT PRIMARY KEY, cid INT); CREATE TABLE c (cid INT, name VARCHAR); \
         INSERT INTO o VALUES (1, 1), (2, 5); INSERT INTO c VALUES (3, 'foo')",
    )
    .await;
    run(
        &mut s,
        "CREATE MATERIALIZED VIEW v AS \
         SELECT id FROM o WHERE cid > (SELECT c.cid FROM c WHERE c.name = 'foo')",
    )
    .await;
    assert_eq!(rows(&mut s, "SELECT * FROM v").await, vec!["2"]);
    // A second 'foo' makes the subquery's value undefined: PostgreSQL's error, for the
    // batch query, and the view fails with it (the table write itself stands).
    run(&mut s, "INSERT INTO c VALUES (4, 'foo')").await;
    let batch = s
        .execute("SELECT id FROM o WHERE cid > (SELECT c.cid FROM c WHERE c.name = 'foo')")
        .await
        .1;
    let view = s.execute("SELECT * FROM v").await.1;
    for error in [batch, view] {
        let error = error.expect("more than one row fails");
        assert!(
            error
                .to_string()
                .contains("more than one row returned by a subquery"),
            "{error}"
        );
    }
    assert_eq!(
        rows(&mut s, "SELECT name, status FROM sluice_queries").await,
        vec!["v|failed: more than one row returned by a subquery used as an expression"]
    );
}
