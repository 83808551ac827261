//! A durable database: the catalog, table rows and everything derived from them survive a
//! close and reopen of the data directory, and views equal their batch recomputation.

mod common;

use common::{query_rows as rows, run};

use std::sync::Arc;

use proptest::prelude::*;
use sluice_planner::{Database, Session};
use sluice_storage::DurableOptions;

fn options() -> DurableOptions {
    DurableOptions {
        // The tests crash nothing below the process: the WAL without fsync is enough, and
        // much faster on CI disks.
        sync_writes: false,
        ..Default::default()
    }
}

async fn open(dir: &std::path::Path) -> Arc<Database> {
    match Database::open(dir, &options()).await {
        Ok(database) => database,
        Err(error) => panic!("open {}: {error}", dir.display()),
    }
}

/// The rows of a query as text, sorted.
const SCHEMA: &str = "
    CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT NOT NULL, balance BIGINT);
    CREATE TABLE events (account INT, amount BIGINT);
    CREATE MATERIALIZED VIEW totals AS
        SELECT account, count(*) AS n, sum(amount) AS total FROM events GROUP BY account;
    CREATE MATERIALIZED VIEW rich AS
        SELECT a.owner, a.balance + coalesce(t.total, 0) AS worth
        FROM accounts a LEFT JOIN totals t ON a.id = t.account;
    CREATE VIEW owners AS SELECT DISTINCT owner FROM accounts;
";

/// The checks run before and after a reopen: views, and their batch recomputation.
const CHECKS: [&str; 5] = [
    "SELECT * FROM accounts",
    "SELECT * FROM events",
    "SELECT * FROM totals",
    "SELECT * FROM rich",
    "SELECT * FROM owners",
];
const RECOMPUTED: [(&str, &str); 2] = [
    (
        "SELECT * FROM totals",
        "SELECT account, count(*), sum(amount) FROM events GROUP BY account",
    ),
    (
        "SELECT * FROM rich",
        "SELECT a.owner, a.balance + coalesce(t.total, 0) FROM accounts a LEFT JOIN \
         (SELECT account, sum(amount) AS total FROM events GROUP BY account) t ON a.id = t.account",
    ),
];

async fn snapshot(session: &mut Session) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for check in CHECKS {
        out.push(rows(session, check).await);
    }
    for (view, batch) in RECOMPUTED {
        assert_eq!(
            rows(session, view).await,
            rows(session, batch).await,
            "{view} differs from its recomputation"
        );
    }
    out
}

#[tokio::test]
async fn catalog_rows_and_views_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let database = open(dir.path()).await;
        assert!(database.is_durable());
        let mut session = Session::new(database.clone());
        run(&mut session, SCHEMA).await;
        run(
            &mut session,
            "INSERT INTO accounts VALUES (1, 'ann', 100), (2, 'bob', 50), (3, 'cy', NULL);
             INSERT INTO events VALUES (1, 5), (1, 5), (2, -7), (4, 1);
             UPDATE accounts SET balance = balance + 1 WHERE id = 2;
             DELETE FROM events WHERE amount = 1;
             CREATE TABLE scratch AS SELECT id * 10 AS x FROM accounts;
             CREATE TABLE dropped (x INT);
             INSERT INTO dropped VALUES (1);
             DROP TABLE dropped;
             CHECKPOINT;",
        )
        .await;
        let mut snapshot = snapshot(&mut session).await;
        snapshot.push(rows(&mut session, "SELECT * FROM scratch").await);
        snapshot
    };
    let database = open(dir.path()).await;
    let mut session = Session::new(database.clone());
    let mut after = snapshot(&mut session).await;
    after.push(rows(&mut session, "SELECT * FROM scratch").await);
    assert_eq!(before, after);
    assert_eq!(
        rows(&mut session, "SELECT * FROM scratch").await,
        vec!["10", "20", "30"]
    );
    // The dropped table stays dropped, and its name is free again (with no old rows).
    run(&mut session, "CREATE TABLE dropped (x INT)").await;
    assert!(rows(&mut session, "SELECT * FROM dropped").await.is_empty());
    // Views keep updating after the restore.
    run(&mut session, "INSERT INTO events VALUES (3, 9)").await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM rich WHERE owner = 'cy'").await,
        vec!["cy|NULL"]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT n, total FROM totals WHERE account = 3"
        )
        .await,
        vec!["1|9"]
    );
}

/// MAP columns (Flink DDL) are stored like any column: a table's maps and a materialized
/// view over them come back after a reopen, and the view keeps updating.
#[tokio::test]
async fn map_columns_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let database = open(dir.path()).await;
        let mut session = Session::new(database.clone());
        run(
            &mut session,
            "CREATE TABLE `Prefs` (`id` BIGINT NOT NULL, `m` MAP<STRING, ARRAY<INT>>,
                                   PRIMARY KEY (`id`) NOT ENFORCED);
             INSERT INTO prefs VALUES (1, MAP['a', ARRAY[1, 2], 'B', ARRAY[3]]), (2, NULL);
             CREATE MATERIALIZED VIEW firsts AS
               SELECT id, m['a'][2] AS a2, cardinality(m) AS n FROM prefs;
             CHECKPOINT;",
        )
        .await;
    }
    let database = open(dir.path()).await;
    let mut session = Session::new(database.clone());
    assert_eq!(
        rows(
            &mut session,
            "SELECT id, m['B'][1], cardinality(m) FROM prefs"
        )
        .await,
        vec!["1|3|2", "2|NULL|NULL"]
    );
    run(
        &mut session,
        "UPDATE prefs SET m = MAP['a', ARRAY[7, 8]] WHERE id = 2",
    )
    .await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM firsts").await,
        vec!["1|2|2", "2|8|1"]
    );
}

#[tokio::test]
async fn failed_statements_are_not_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let database = open(dir.path()).await;
        let mut session = Session::new(database);
        run(&mut session, "CREATE TABLE t (k INT PRIMARY KEY)").await;
        let (_, error) = session.execute("CREATE TABLE t (k INT)").await;
        assert!(error.is_some());
        let (_, error) = session
            .execute("CREATE MATERIALIZED VIEW v AS SELECT nope FROM t")
            .await;
        assert!(error.is_some());
        run(&mut session, "INSERT INTO t VALUES (1), (2)").await;
        let (_, error) = session.execute("INSERT INTO t VALUES (3), (1)").await;
        assert!(error.is_some(), "duplicate key accepted");
    }
    let database = open(dir.path()).await;
    let mut session = Session::new(database);
    assert_eq!(rows(&mut session, "SELECT * FROM t").await, vec!["1", "2"]);
    let (_, error) = session.execute("SELECT * FROM v").await;
    assert!(error.is_some(), "a failed CREATE came back");
}

#[tokio::test]
async fn a_second_server_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = open(dir.path()).await;
    let error = Database::open(dir.path(), &options())
        .await
        .expect_err("second open succeeded");
    assert_eq!(error.sqlstate(), "55006", "{error}");
    assert!(error.to_string().contains("in use"), "{error}");
}

#[tokio::test]
async fn a_garbled_catalog_record_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let durable = sluice_storage::Durable::open(dir.path(), &options()).expect("open");
        durable
            .append_catalog(1, b"{not json", &[])
            .expect("append");
    }
    let error = Database::open(dir.path(), &options())
        .await
        .expect_err("garbled catalog accepted");
    assert_eq!(error.sqlstate(), "XX001", "{error}");
    assert!(error.to_string().contains("catalog record 1"), "{error}");
}

/// One random step of a workload over the schema above.
#[derive(Debug, Clone)]
enum Step {
    Insert(i32, i64),
    Delete(i32),
    Update(i32, i64),
    Event(i32, i64),
    DeleteEvents(i32),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..8i32, -5..5i64).prop_map(|(k, v)| Step::Insert(k, v)),
        1 => (0..8i32).prop_map(Step::Delete),
        2 => (0..8i32, -5..5i64).prop_map(|(k, v)| Step::Update(k, v)),
        4 => (0..8i32, -5..5i64).prop_map(|(k, v)| Step::Event(k, v)),
        1 => (0..8i32).prop_map(Step::DeleteEvents),
        1 => Just(Step::Reopen),
    ]
}

fn sql(step: &Step) -> Option<String> {
    Some(match step {
        Step::Insert(k, v) => format!("INSERT INTO accounts VALUES ({k}, 'o{}', {v})", k % 3),
        Step::Delete(k) => format!("DELETE FROM accounts WHERE id = {k}"),
        Step::Update(k, v) => format!("UPDATE accounts SET balance = {v} WHERE id = {k}"),
        Step::Event(k, v) => format!("INSERT INTO events VALUES ({k}, {v})"),
        Step::DeleteEvents(k) => format!("DELETE FROM events WHERE account = {k}"),
        Step::Reopen => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random DML with reopens in between: after every reopen the database holds exactly what
    /// it held before, and the views equal their recomputation.
    #[test]
    fn random_workloads_survive_reopens(steps in proptest::collection::vec(step(), 1..30)) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut database = open(dir.path()).await;
            let mut session = Session::new(database.clone());
            run(&mut session, SCHEMA).await;
            for step in &steps {
                match sql(step) {
                    // Duplicate keys fail; the statement then changes nothing.
                    Some(sql) => drop(session.execute(&sql).await),
                    None => {
                        let before = snapshot(&mut session).await;
                        drop(session);
                        drop(database);
                        database = open(dir.path()).await;
                        session = Session::new(database.clone());
                        let after = snapshot(&mut session).await;
                        assert_eq!(before, after);
                    }
                }
            }
            snapshot(&mut session).await;
        });
    }
}
