//! UNION ALL of branches with different integer widths in a materialized view.

use std::sync::Arc;

use arrow::util::pretty::pretty_format_batches;
use sluice_planner::{Database, Session, StatementResult};

#[tokio::test]
async fn union_all_widens_integer_branches() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (results, error) = session
        .execute(
            "CREATE TABLE a (id INT PRIMARY KEY, v INT);
             CREATE TABLE b (id INT PRIMARY KEY, v INT);
             CREATE MATERIALIZED VIEW m AS SELECT v FROM a UNION ALL SELECT v * 100 FROM b;
             INSERT INTO a VALUES (1, 1);
             INSERT INTO b VALUES (1, 2);
             SELECT v FROM m ORDER BY v;",
        )
        .await;
    assert!(error.is_none(), "{error:?}");
    let StatementResult::Query { batches, .. } = results.last().unwrap() else {
        panic!("no rows")
    };
    let text = pretty_format_batches(batches).unwrap().to_string();
    assert!(
        text.contains("| 1   |") && text.contains("| 200 |"),
        "{text}"
    );
}
