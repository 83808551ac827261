//! DataSQRL's JSON functions (`to_jsonb`, `jsonb_*`): their values on literal inputs (the
//! cases of DataSQRL's own function tests), JSON-ness carried from one function's result to
//! another through views, errors, and the aggregates maintained by a view under random
//! inserts, updates and deletes compared with the rows computed here from the table.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{query_rows as rows, run};
use proptest::prelude::*;
use serde_json::{json, Value};
use sluice_planner::{Database, Session};

async fn value(session: &mut Session, expression: &str) -> String {
    let rows = rows(session, &format!("SELECT {expression}")).await;
    assert_eq!(rows.len(), 1, "{expression}");
    rows[0].clone()
}

#[tokio::test]
async fn scalar_functions_follow_datasqrl() {
    let database = Database::new();
    let mut s = Session::new(Arc::clone(&database));
    let cases = [
        // to_jsonb parses strings (compact, keys in order) and converts other values.
        (
            r#"to_jsonb('{"b": 1, "a": [true, null]}')"#,
            r#"{"b":1,"a":[true,null]}"#,
        ),
        ("to_jsonb('Not a JSON')", "NULL"),
        ("to_jsonb(CAST(NULL AS VARCHAR))", "NULL"),
        ("to_jsonb(42)", "42"),
        (
            "to_jsonb(named_struct('k', 'v', 'n', 1))",
            r#"{"k":"v","n":1}"#,
        ),
        ("to_jsonb([1, 2])", "[1,2]"),
        (
            r#"jsonb_to_string(to_jsonb('{"key": "value"}'))"#,
            r#"{"key":"value"}"#,
        ),
        // Objects and arrays embed JSON values as JSON and strings as strings.
        (
            "jsonb_object('key1', 'value1', 'key2', 'value2')",
            r#"{"key1":"value1","key2":"value2"}"#,
        ),
        ("jsonb_object('key1', NULL)", r#"{"key1":null}"#),
        (
            r#"jsonb_object('o', to_jsonb('{"a": 1}'), 's', '{"a": 1}')"#,
            r#"{"o":{"a":1},"s":"{\"a\": 1}"}"#,
        ),
        (
            "jsonb_array('stringValue', 123, true)",
            r#"["stringValue",123,true]"#,
        ),
        ("jsonb_array(NULL)", "[null]"),
        (
            r#"jsonb_array(to_jsonb('{"key1": "value1"}'), to_jsonb('{"key2": "value2"}'))"#,
            r#"[{"key1":"value1"},{"key2":"value2"}]"#,
        ),
        // Paths.
        (
            r#"jsonb_extract(to_jsonb('{"key": "value"}'), '$.key')"#,
            "value",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": true}'), '$.key')"#,
            "true",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": "value"}'), '$.nonexistentKey')"#,
            "NULL",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": "value"}'), '$.nonexistentKey', 'default')"#,
            "default",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": true}'), '$.key', false)"#,
            "true",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": true}'), '$.missing', true)"#,
            "true",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": 1.23}'), '$.key', 4.56)"#,
            "1.23",
        ),
        (
            r#"jsonb_extract(to_jsonb('{"key": 123}'), '$.key', 456)"#,
            "123",
        ),
        (r#"jsonb_extract(to_jsonb('{"a": [5, 6]}'), '$.a[1]')"#, "6"),
        (
            r#"jsonb_query(to_jsonb('{"key": "value"}'), '$.key')"#,
            r#""value""#,
        ),
        (
            r#"jsonb_query(to_jsonb('{"a": {"b": 1}}'), '$.a')"#,
            r#"{"b":1}"#,
        ),
        (
            r#"jsonb_query(to_jsonb('{"key": "value"}'), '$.invalidKey')"#,
            "NULL",
        ),
        (
            r#"jsonb_query(to_jsonb('{"a": [{"b": 1}, {"b": 2}]}'), '$.a[*].b')"#,
            "[1,2]",
        ),
        (
            r#"jsonb_exists(to_jsonb('{"key1": {"key2": "v"}}'), '$.key1.key2')"#,
            "true",
        ),
        (
            r#"jsonb_exists(to_jsonb('{"key1": {"key2": "v"}}'), '$.key1.other')"#,
            "false",
        ),
        (
            "jsonb_exists(to_jsonb(CAST(NULL AS VARCHAR)), '$.key')",
            "NULL",
        ),
        (
            r#"jsonb_concat(to_jsonb('{"key1": "value1"}'), to_jsonb('{"key2": "value2"}'))"#,
            r#"{"key1":"value1","key2":"value2"}"#,
        ),
        (
            r#"jsonb_concat(to_jsonb('{"a": true}'), to_jsonb('{"a": false}'))"#,
            r#"{"a":false}"#,
        ),
        (
            r#"jsonb_concat(to_jsonb('{"key1": "value1"}'), to_jsonb(CAST(NULL AS VARCHAR)))"#,
            "NULL",
        ),
    ];
    for (expression, expected) in cases {
        assert_eq!(value(&mut s, expression).await, expected, "{expression}");
    }
    // Errors: an odd number of jsonb_object arguments, a NULL key, a malformed path.
    for (sql, message) in [
        ("SELECT jsonb_object('k', 1, 'j')", "key/value pairs"),
        (
            "SELECT jsonb_object(CAST(NULL AS VARCHAR), 1)",
            "a key is NULL",
        ),
        (
            "SELECT jsonb_exists(to_jsonb('{}'), '$[')",
            "invalid JSON path",
        ),
    ] {
        let (_, error) = s.execute(sql).await;
        let error = error.unwrap_or_else(|| panic!("{sql} should fail"));
        assert!(error.to_string().contains(message), "{sql}: {error}");
    }
}

#[tokio::test]
async fn json_values_stay_json_through_views() {
    let database = Database::new();
    let mut s = Session::new(Arc::clone(&database));
    run(
        &mut s,
        "CREATE TABLE t (id INT PRIMARY KEY, doc VARCHAR); \
         INSERT INTO t VALUES (1, '{\"a\": {\"b\": 1}}'), (2, 'oops'); \
         CREATE VIEW parsed AS SELECT id, to_jsonb(doc) AS j FROM t; \
         CREATE MATERIALIZED VIEW wrapped AS SELECT id, jsonb_array(j) AS arr, \
             jsonb_query(j, '$.a') AS a FROM parsed",
    )
    .await;
    assert_eq!(
        rows(&mut s, "SELECT * FROM wrapped").await,
        vec![r#"1|[{"a":{"b":1}}]|{"b":1}"#, "2|[null]|NULL"]
    );
    run(&mut s, "UPDATE t SET doc = '[1, 2]' WHERE id = 2").await;
    assert_eq!(
        rows(&mut s, "SELECT * FROM wrapped WHERE id = 2").await,
        vec!["2|[[1,2]]|NULL"]
    );
}

/// A row of `events`: a group, a name (the object key) and a payload.
#[derive(Debug, Clone)]
struct Event {
    group: i32,
    payload: Option<i64>,
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(i32, Event),
    Delete(i32),
}

fn op() -> impl Strategy<Value = Op> {
    let event =
        (0i32..3, prop::option::of(0i64..5)).prop_map(|(group, payload)| Event { group, payload });
    prop_oneof![
        3 => (0i32..8, event).prop_map(|(id, e)| Op::Upsert(id, e)),
        1 => (0i32..8).prop_map(Op::Delete),
    ]
}

fn statement(op: &Op) -> String {
    match op {
        Op::Upsert(id, e) => {
            let payload = e.payload.map_or("NULL".to_string(), |p| p.to_string());
            format!(
                "DELETE FROM events WHERE id = {id}; \
                 INSERT INTO events VALUES ({id}, {}, {payload})",
                e.group
            )
        }
        Op::Delete(id) => format!("DELETE FROM events WHERE id = {id}"),
    }
}

const AGGREGATES: &str = "SELECT grp, jsonb_array_agg(payload) AS arr, \
     jsonb_object_agg(concat('k', CAST(id AS VARCHAR)), jsonb_object('p', payload)) AS obj \
     FROM events GROUP BY grp";

/// Each group's array (sorted: the aggregate's order is the order rows arrive) and object,
/// from a view's or query's rows `grp|arr|obj`.
fn normalized(rows: &[String]) -> BTreeMap<i32, (Vec<String>, Value)> {
    rows.iter()
        .map(|row| {
            let mut cells = row.splitn(3, '|');
            let group: i32 = cells.next().and_then(|g| g.parse().ok()).expect("group");
            let array: Value = serde_json::from_str(cells.next().expect("arr")).expect("JSON");
            let object: Value = serde_json::from_str(cells.next().expect("obj")).expect("JSON");
            let mut items: Vec<String> = array
                .as_array()
                .expect("array")
                .iter()
                .map(Value::to_string)
                .collect();
            items.sort();
            (group, (items, object))
        })
        .collect()
}

fn expected(table: &BTreeMap<i32, Event>) -> BTreeMap<i32, (Vec<String>, Value)> {
    let mut groups: BTreeMap<i32, (Vec<String>, serde_json::Map<String, Value>)> = BTreeMap::new();
    for (id, e) in table {
        let (items, object) = groups.entry(e.group).or_default();
        let payload = e.payload.map_or(Value::Null, |p| json!(p));
        items.push(payload.to_string());
        object.insert(format!("k{id}"), json!({ "p": payload }));
    }
    groups
        .into_iter()
        .map(|(group, (mut items, object))| {
            items.sort();
            (group, (items, Value::Object(object)))
        })
        .collect()
}

async fn scenario(ops: Vec<Op>, workers: usize) {
    let database = Database::new();
    database.set_workers(workers).await;
    let mut s = Session::new(Arc::clone(&database));
    run(
        &mut s,
        "CREATE TABLE events (id INT PRIMARY KEY, grp INT, payload BIGINT)",
    )
    .await;
    run(
        &mut s,
        &format!("CREATE MATERIALIZED VIEW agg AS {AGGREGATES}"),
    )
    .await;
    let mut table = BTreeMap::new();
    for op in &ops {
        run(&mut s, &statement(op)).await;
        match op {
            Op::Upsert(id, e) => {
                table.insert(*id, e.clone());
            }
            Op::Delete(id) => {
                table.remove(id);
            }
        }
        let expected = expected(&table);
        let view = normalized(&rows(&mut s, "SELECT * FROM agg").await);
        assert_eq!(view, expected, "view after {}", statement(op));
        let batch = normalized(&rows(&mut s, AGGREGATES).await);
        assert_eq!(batch, expected, "batch after {}", statement(op));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn json_aggregates_match_the_table(
        ops in prop::collection::vec(op(), 1..14),
        workers in 1usize..3,
    ) {
        common::block_on(scenario(ops, workers));
    }
}
