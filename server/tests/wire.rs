//! Over-the-wire tests with tokio-postgres: extended protocol with parameters and binary
//! results, SQLSTATEs of errors, and a connection that stays usable after errors.

mod common;

use sluice_server::Server;
use tokio_postgres::{error::SqlState, Client};

async fn by_ok(client: &Client) -> Vec<(bool, i64, i64)> {
    let rows = client
        .query("SELECT ok, n, total FROM by_ok ORDER BY ok", &[])
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn start() -> (Server, Client) {
    let server = common::start_server().await;
    let (client, _connection) = common::connect(&server).await;
    (server, client)
}

#[tokio::test]
async fn parameters_binary_results_and_view_updates() {
    let (server, client) = start().await;
    client
        .batch_execute(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, price DOUBLE PRECISION, ok BOOLEAN, qty INT);
             CREATE MATERIALIZED VIEW by_ok AS SELECT ok, count(*) AS n, sum(qty) AS total FROM items GROUP BY ok;",
        )
        .await
        .unwrap();
    let insert = client
        .prepare("INSERT INTO items VALUES ($1, $2, $3, $4, $5)")
        .await
        .unwrap();
    for (id, name, price, ok, qty) in [
        (1i64, "apple", 1.5f64, true, 3i32),
        (2, "pear", 2.25, false, 4),
        (3, "plum", 0.5, true, 10),
    ] {
        let affected = client
            .execute(&insert, &[&id, &name, &price, &ok, &qty])
            .await
            .unwrap();
        assert_eq!(affected, 1);
    }
    let row = client
        .query_one(
            "SELECT name, price, ok, qty FROM items WHERE id = $1",
            &[&2i64],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "pear");
    assert_eq!(row.get::<_, f64>(1), 2.25);
    assert!(!row.get::<_, bool>(2));
    assert_eq!(row.get::<_, i32>(3), 4);

    // Read-your-writes on the view, through the extended protocol.
    assert_eq!(by_ok(&client).await, vec![(false, 1, 4), (true, 2, 13)]);
    client
        .execute("UPDATE items SET ok = $1 WHERE id = $2", &[&false, &3i64])
        .await
        .unwrap();
    assert_eq!(by_ok(&client).await, vec![(false, 2, 14), (true, 1, 3)]);

    // Statement description: parameter and column types.
    let statement = client
        .prepare("SELECT id, name FROM items WHERE price > $1")
        .await
        .unwrap();
    assert_eq!(statement.params(), &[tokio_postgres::types::Type::FLOAT8]);
    assert_eq!(
        statement.columns()[0].type_(),
        &tokio_postgres::types::Type::INT8
    );
    assert_eq!(
        statement.columns()[1].type_(),
        &tokio_postgres::types::Type::TEXT
    );
    server.shutdown().await;
}

#[tokio::test]
async fn errors_carry_sqlstate_and_keep_the_connection_usable() {
    let (server, client) = start().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
        .await
        .unwrap();
    let cases: &[(&str, SqlState)] = &[
        ("SELEC 1", SqlState::SYNTAX_ERROR),
        ("SELECT * FROM missing", SqlState::UNDEFINED_TABLE),
        ("SELECT nope FROM t", SqlState::UNDEFINED_COLUMN),
        (
            "INSERT INTO t VALUES ('abc', 'x')",
            SqlState::INVALID_TEXT_REPRESENTATION,
        ),
        ("CREATE TABLE t (id INT)", SqlState::DUPLICATE_TABLE),
        ("SELECT 1 / 0", SqlState::DIVISION_BY_ZERO),
        (
            "CREATE MATERIALIZED VIEW w AS SELECT id FROM t LIMIT 1",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
    ];
    for (sql, expected) in cases {
        let error = client.simple_query(sql).await.unwrap_err();
        let code = error
            .code()
            .unwrap_or_else(|| panic!("{sql}: no SQLSTATE in {error}"));
        assert_eq!(code, expected, "{sql}: {error}");
    }
    client
        .simple_query("INSERT INTO t VALUES (1, 'a')")
        .await
        .unwrap();
    let error = client
        .simple_query("INSERT INTO t VALUES (1, 'b')")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::UNIQUE_VIOLATION));
    // Syntax errors report a position.
    let error = client
        .simple_query("SELECT 1 FROM t WHERE")
        .await
        .unwrap_err();
    let db_error = error.as_db_error().unwrap();
    assert!(db_error.position().is_some(), "no position in {db_error:?}");
    // The connection still works, and the failed insert changed nothing.
    let rows = client.query("SELECT v FROM t", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "a");
    server.shutdown().await;
}
