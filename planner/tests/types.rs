//! Column types beyond PostgreSQL's own syntax: Flink's TIMESTAMP_LTZ(p), ROW(...) and
//! STRUCT<...>, ARRAY<...>, and how they come out of a maintained view.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::pretty::pretty_format_batches;
use sluice_planner::{Database, Session, StatementResult};

#[tokio::test]
async fn flink_and_nested_column_types() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (results, error) = session
        .execute(
            "CREATE TABLE events (id BIGINT PRIMARY KEY, ts TIMESTAMP_LTZ(3), tags ARRAY<INT>,
                                  who ROW(name TEXT, age INT), place STRUCT<city VARCHAR, zip INT>);
             INSERT INTO events VALUES (1, '2024-05-01 12:00:00.250+02', [1, 2],
                                        named_struct('name', 'ann', 'age', 30),
                                        named_struct('city', 'oslo', 'zip', 150));
             CREATE MATERIALIZED VIEW by_city AS
               SELECT place['city'] AS city, who['name'] AS name, count(*) AS n FROM events
               GROUP BY place['city'], who['name'];
             SELECT ts, tags, who, place FROM events;
             SELECT city, name, n FROM by_city;",
        )
        .await;
    assert!(error.is_none(), "{error:?}");
    let StatementResult::Query { schema, batches } = &results[3] else {
        panic!("no rows");
    };
    assert_eq!(
        schema.field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()))
    );
    let text = pretty_format_batches(batches).unwrap().to_string();
    assert!(text.contains("2024-05-01T10:00:00.250Z"), "{text}");
    assert!(text.contains("[1, 2]"), "{text}");
    assert!(text.contains("{name: ann, age: 30}"), "{text}");
    let StatementResult::Query { batches, .. } = &results[4] else {
        panic!("no rows");
    };
    let text = pretty_format_batches(batches).unwrap().to_string();
    assert!(text.contains("| oslo | ann  | 1 |"), "{text}");
}
