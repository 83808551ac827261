//! Primary-key point lookups: equality filters on the key read one row, and every other
//! filter still applies.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::Int32Type;
use sluice_planner::{Database, Session, StatementResult};

async fn ids(session: &mut Session, sql: &str) -> Vec<i32> {
    let (results, error) = session.execute(sql).await;
    assert!(error.is_none(), "{sql}: {error:?}");
    let StatementResult::Query { batches, .. } = &results[0] else {
        panic!("{sql}: no rows");
    };
    let mut out: Vec<i32> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn key_equality_finds_the_row_and_other_filters_still_apply() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (_, error) = session
        .execute(
            "CREATE TABLE t (k INT PRIMARY KEY, v INT);
             INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);
             CREATE TABLE pair (a INT, b INT, v INT, PRIMARY KEY (a, b));
             INSERT INTO pair VALUES (1, 1, 11), (1, 2, 12), (2, 1, 21);",
        )
        .await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        ids(&mut session, "SELECT k FROM t WHERE k = 2").await,
        vec![2]
    );
    assert_eq!(
        ids(&mut session, "SELECT k FROM t WHERE 3 = k").await,
        vec![3]
    );
    assert_eq!(
        ids(&mut session, "SELECT k FROM t WHERE k = 2 AND v = 99").await,
        Vec::<i32>::new()
    );
    assert_eq!(
        ids(&mut session, "SELECT k FROM t WHERE k = 7").await,
        Vec::<i32>::new()
    );
    assert_eq!(
        ids(&mut session, "SELECT k FROM t WHERE k = 2 OR k = 3").await,
        vec![2, 3]
    );
    assert_eq!(
        ids(&mut session, "SELECT v FROM pair WHERE a = 1 AND b = 2").await,
        vec![12]
    );
    assert_eq!(
        ids(&mut session, "SELECT v FROM pair WHERE a = 1").await,
        vec![11, 12]
    );
    // A lookup after an update sees the new row.
    let (_, error) = session.execute("UPDATE t SET k = 5 WHERE k = 2").await;
    assert!(error.is_none());
    assert_eq!(
        ids(&mut session, "SELECT k FROM t WHERE k = 2").await,
        Vec::<i32>::new()
    );
    assert_eq!(
        ids(&mut session, "SELECT v FROM t WHERE k = 5").await,
        vec![20]
    );
    // Prepared lookups with a parameter.
    let prepared = session
        .prepare("SELECT v FROM t WHERE k = $1")
        .await
        .unwrap();
    let result = session
        .execute_prepared(
            &prepared,
            Some(datafusion::common::ParamValues::from(vec![
                datafusion::common::ScalarValue::Int32(Some(3)),
            ])),
        )
        .await
        .unwrap()
        .unwrap();
    let StatementResult::Query { batches, .. } = result else {
        panic!("no rows");
    };
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
}
