//! Transaction blocks over the wire: the ReadyForQuery status, a failed block refusing
//! statements (25P02) until ROLLBACK or ROLLBACK TO SAVEPOINT, savepoint names (25P01,
//! 3B001), and ROLLBACK TO SAVEPOINT refusing (0A000) to pretend it undid committed writes.

mod common;

use tokio_postgres::Client;

async fn connect(server: &sluice_server::Server) -> Client {
    common::connect(server).await.0
}

async fn code(client: &Client, sql: &str) -> String {
    client
        .batch_execute(sql)
        .await
        .expect_err(sql)
        .code()
        .map(|c| c.code().to_string())
        .unwrap_or_default()
}

async fn count(client: &Client) -> i64 {
    client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn savepoints_behave_as_in_postgres() {
    let server = common::start_server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    assert_eq!(code(&client, "SAVEPOINT a").await, "25P01");
    assert_eq!(code(&client, "RELEASE SAVEPOINT a").await, "25P01");

    // An error in a block: everything but ROLLBACK [TO SAVEPOINT] is refused.
    client.batch_execute("BEGIN; SAVEPOINT a").await.unwrap();
    assert_eq!(code(&client, "INSERT INTO t VALUES (1)").await, "23505");
    assert_eq!(code(&client, "SELECT 1").await, "25P02");
    // Nothing changed since the savepoint: rolling back to it makes the block usable.
    client
        .batch_execute("ROLLBACK TO SAVEPOINT a")
        .await
        .unwrap();
    client
        .batch_execute("INSERT INTO t VALUES (2)")
        .await
        .unwrap();
    assert_eq!(count(&client).await, 2);

    // The insert is committed already: ROLLBACK TO cannot undo it and says so.
    assert_eq!(code(&client, "ROLLBACK TO a").await, "0A000");
    client.batch_execute("ROLLBACK").await.unwrap();

    // Savepoint names: unknown ones, reuse, RELEASE forgetting later ones.
    client
        .batch_execute("BEGIN; SAVEPOINT x; SAVEPOINT y; SAVEPOINT x; RELEASE x; ROLLBACK TO y")
        .await
        .unwrap();
    client.batch_execute("RELEASE SAVEPOINT x").await.unwrap();
    assert_eq!(code(&client, "ROLLBACK TO SAVEPOINT y").await, "3B001");
    assert_eq!(code(&client, "SELECT 1").await, "25P02");
    // COMMIT of a failed block ends it (PostgreSQL reports ROLLBACK).
    client.batch_execute("COMMIT").await.unwrap();
    client.batch_execute("SELECT 1").await.unwrap();
    assert_eq!(code(&client, "SAVEPOINT z").await, "25P01");

    // tokio-postgres' own transaction API uses savepoints for nested transactions.
    let mut client = client;
    let mut transaction = client.transaction().await.unwrap();
    {
        let nested = transaction.transaction().await.unwrap();
        let error = nested
            .batch_execute("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert_eq!(error.code().unwrap().code(), "23505");
        nested.rollback().await.unwrap();
    }
    transaction
        .batch_execute("INSERT INTO t VALUES (3)")
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(count(&client).await, 3);
    server.shutdown().await;
}
