//! SUBSCRIBE over the wire with tokio-postgres: snapshot then changes with their diffs, the
//! batch oracle (the sum of everything received equals a fresh SELECT), SNAPSHOT = false,
//! logical views and queries, retraction + insertion on a GROUP BY view, cursors with
//! DECLARE / FETCH (with timeout) / CLOSE, cancel and disconnect freeing the subscriber,
//! and the errors (unknown relation with position, a dropped relation).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, RowStream, SimpleQueryMessage};

/// A subscription's row stream (pinned: `RowStream` is not `Unpin`).
type Rows = std::pin::Pin<Box<RowStream>>;

const WAIT: Duration = Duration::from_secs(15);

use common::connect;

/// A subscription's rows as (timestamp, diff, the relation's columns as text).
type Change = (i64, i64, Vec<Option<String>>);

/// Subscribe over the extended protocol (rows arrive in binary, as they are committed).
async fn subscribe(client: &Client, sql: &str) -> Rows {
    let no_parameters: [&(dyn ToSql + Sync); 0] = [];
    Box::pin(client.query_raw(sql, no_parameters).await.unwrap())
}

/// Read the next change of a subscription whose columns after the diff are `BIGINT`s or text.
async fn next_change(stream: &mut Rows) -> Change {
    let row = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("a change within the wait")
        .expect("the subscription is still running")
        .unwrap();
    decode(&row)
}

fn decode(row: &Row) -> Change {
    let values = (2..row.len())
        .map(|i| match row.columns()[i].type_().name() {
            "int8" => row.get::<_, Option<i64>>(i).map(|v| v.to_string()),
            "int4" => row.get::<_, Option<i32>>(i).map(|v| v.to_string()),
            _ => row.get::<_, Option<String>>(i),
        })
        .collect();
    (row.get(0), row.get(1), values)
}

/// The relation's rows from a fresh SELECT, as a multiset of text rows.
async fn select(client: &Client, sql: &str) -> BTreeMap<Vec<Option<String>>, i64> {
    let mut rows = BTreeMap::new();
    for message in client.simple_query(sql).await.unwrap() {
        if let SimpleQueryMessage::Row(row) = message {
            let values = (0..row.len())
                .map(|i| row.get(i).map(str::to_string))
                .collect();
            *rows.entry(values).or_insert(0) += 1;
        }
    }
    rows
}

/// Add changes into the consolidated multiset they describe.
fn apply(state: &mut BTreeMap<Vec<Option<String>>, i64>, changes: &[Change]) {
    for (_, diff, row) in changes {
        let weight = state.entry(row.clone()).or_insert(0);
        *weight += diff;
        if *weight == 0 {
            state.remove(row);
        }
    }
}

/// Read changes until their sum equals `expected` (the batch oracle).
async fn read_until(
    stream: &mut Rows,
    state: &mut BTreeMap<Vec<Option<String>>, i64>,
    expected: &BTreeMap<Vec<Option<String>>, i64>,
) -> Vec<Change> {
    let mut received = Vec::new();
    let deadline = Instant::now() + WAIT;
    while state != expected {
        assert!(
            Instant::now() < deadline,
            "subscription state {state:?} never reached {expected:?}; received {received:?}"
        );
        let change = next_change(stream).await;
        apply(state, std::slice::from_ref(&change));
        received.push(change);
    }
    received
}

async fn subscription_count(client: &Client) -> usize {
    client.query("SHOW SUBSCRIPTIONS", &[]).await.unwrap().len()
}

async fn wait_for_subscriptions(client: &Client, count: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = subscription_count(client).await;
        if now == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} subscriptions, expected {count}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_changes_sum_to_a_fresh_select() {
    let server = common::start_server().await;
    let (writer, _w) = connect(&server).await;
    // One subscription per connection: a subscription never ends, so a connection runs
    // nothing else meanwhile.
    let (reader, _r) = connect(&server).await;
    let (view_reader, _v) = connect(&server).await;
    writer
        .batch_execute(
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT, amount BIGINT);
             CREATE MATERIALIZED VIEW totals AS
               SELECT customer, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer;
             INSERT INTO orders VALUES (1, 'ann', 10), (2, 'ann', 30), (3, 'bob', 5);",
        )
        .await
        .unwrap();

    let mut table = subscribe(&reader, "SUBSCRIBE TO orders").await;
    let mut view = subscribe(&view_reader, "SUBSCRIBE totals").await;
    assert_eq!(
        view.rows_affected(),
        None,
        "a subscription never completes by itself"
    );

    // The snapshot: current contents as inserts at one timestamp.
    let mut table_state = BTreeMap::new();
    let expected = select(&writer, "SELECT * FROM orders").await;
    let snapshot = read_until(&mut table, &mut table_state, &expected).await;
    assert_eq!(snapshot.len(), 3);
    assert!(snapshot
        .iter()
        .all(|(t, d, _)| *t == snapshot[0].0 && *d == 1));
    let mut view_state = BTreeMap::new();
    let expected = select(&writer, "SELECT * FROM totals").await;
    read_until(&mut view, &mut view_state, &expected).await;

    // An update of a group: its old row is retracted and the new one inserted, at one
    // timestamp after the snapshot's.
    writer
        .execute("UPDATE orders SET amount = 7 WHERE id = 3", &[])
        .await
        .unwrap();
    let first = next_change(&mut view).await;
    let second = next_change(&mut view).await;
    assert_eq!(
        (first.1, first.2.clone()),
        (
            -1,
            vec![Some("bob".into()), Some("1".into()), Some("5".into())]
        )
    );
    assert_eq!(
        (second.1, second.2.clone()),
        (
            1,
            vec![Some("bob".into()), Some("1".into()), Some("7".into())]
        )
    );
    assert_eq!(first.0, second.0, "one commit, one timestamp");
    apply(&mut view_state, &[first.clone(), second]);
    let update = next_change(&mut table).await;
    let update_insert = next_change(&mut table).await;
    assert_eq!((update.1, update_insert.1), (-1, 1));
    assert!(update.0 > snapshot[0].0, "timestamps increase");
    apply(&mut table_state, &[update, update_insert]);

    // Inserts, deletes and a multi-row statement; then the batch oracle.
    writer
        .batch_execute(
            "INSERT INTO orders VALUES (4, 'cid', 1), (5, 'ann', 2);
             DELETE FROM orders WHERE customer = 'ann' AND amount > 5;
             UPDATE orders SET customer = 'bob' WHERE id = 4;
             INSERT INTO orders VALUES (6, 'dan', 3);
             DELETE FROM orders WHERE id = 6;",
        )
        .await
        .unwrap();
    let expected = select(&writer, "SELECT * FROM totals").await;
    let changes = read_until(&mut view, &mut view_state, &expected).await;
    assert!(changes.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(changes.iter().all(|(t, _, _)| *t > first.0));
    let expected = select(&writer, "SELECT * FROM orders").await;
    read_until(&mut table, &mut table_state, &expected).await;
    assert_eq!(subscription_count(&writer).await, 2);
    drop((table, view));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_protocol_without_snapshot_and_views_and_queries() {
    let server = common::start_server().await;
    let (writer, _w) = connect(&server).await;
    let (reader, _r) = connect(&server).await;
    let (view_reader, _v) = connect(&server).await;
    let (query_reader, _q) = connect(&server).await;
    writer
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, qty BIGINT);
             INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 20);
             CREATE VIEW big AS SELECT id, name FROM t WHERE qty >= 10;",
        )
        .await
        .unwrap();

    // Simple protocol, no snapshot: only what is committed afterwards, as text.
    let stream = reader
        .simple_query_raw("SUBSCRIBE TO t WITH (SNAPSHOT = false)")
        .await
        .unwrap();
    let mut stream = Box::pin(stream);
    let mut view = subscribe(&view_reader, "SUBSCRIBE TO big").await;
    let mut query = subscribe(
        &query_reader,
        "SUBSCRIBE TO (SELECT name, qty * 2 AS double FROM t WHERE id > 1)",
    )
    .await;
    wait_for_subscriptions(&writer, 3).await;
    writer
        .execute("INSERT INTO t VALUES (3, 'c', 30)", &[])
        .await
        .unwrap();
    let row = loop {
        match tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
            Some(Ok(SimpleQueryMessage::Row(row))) => break row,
            Some(Ok(_)) => continue,
            other => panic!("expected a row, got {other:?}"),
        }
    };
    assert_eq!(
        (row.get(1), row.get(2), row.get(3), row.get(4)),
        (Some("1"), Some("3"), Some("c"), Some("30"))
    );
    let timestamp: i64 = row.get(0).unwrap().parse().unwrap();
    assert!(timestamp > 0);

    // The logical view: snapshot (id 2) then the insert (id 3); the query likewise.
    let mut state = BTreeMap::new();
    let expected = select(&writer, "SELECT * FROM big").await;
    assert_eq!(expected.len(), 2);
    read_until(&mut view, &mut state, &expected).await;
    let mut query_state = BTreeMap::new();
    let expected = select(
        &writer,
        "SELECT name, qty * 2 AS double FROM t WHERE id > 1",
    )
    .await;
    read_until(&mut query, &mut query_state, &expected).await;

    writer
        .batch_execute("UPDATE t SET qty = 5 WHERE id = 2; DELETE FROM t WHERE id = 3")
        .await
        .unwrap();
    let expected = select(&writer, "SELECT * FROM big").await;
    assert!(expected.is_empty());
    read_until(&mut view, &mut state, &expected).await;
    let expected = select(
        &writer,
        "SELECT name, qty * 2 AS double FROM t WHERE id > 1",
    )
    .await;
    read_until(&mut query, &mut query_state, &expected).await;

    // Dropping the relation ends the subscription with an error.
    writer.batch_execute("DROP VIEW big").await.unwrap();
    let ended = tokio::time::timeout(WAIT, view.next()).await.unwrap();
    let error = match ended {
        Some(Err(error)) => error,
        other => panic!("expected the subscription to end with an error, got {other:?}"),
    };
    let db = error.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "42P01");
    assert!(db.message().contains("dropped"), "{}", db.message());
    drop((stream, query));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_declare_fetch_close() {
    let server = common::start_server().await;
    let (writer, _w) = connect(&server).await;
    let (reader, _r) = connect(&server).await;
    writer
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT);
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .await
        .unwrap();
    let error = reader
        .batch_execute("DECLARE c CURSOR FOR SUBSCRIBE TO t")
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "25P01");

    reader
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE TO t")
        .await
        .unwrap();
    // Up to n available rows.
    let rows = reader.query("FETCH 2 c", &[]).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].columns()[0].name(), "sluice_timestamp");
    assert_eq!(rows[0].columns()[1].name(), "sluice_diff");
    let rows = reader
        .query("FETCH ALL c WITH (timeout = '1s')", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // Nothing new: the timeout passes and no rows come back.
    let started = Instant::now();
    let rows = reader
        .query("FETCH 10 FROM c WITH (TIMEOUT = '300ms')", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));

    // Without a timeout FETCH waits for the first row.
    let fetch = {
        let reader_fetch = reader.query("FETCH ALL IN c", &[]);
        let write = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            writer
                .execute("UPDATE t SET name = 'z' WHERE id = 1", &[])
                .await
                .unwrap();
        };
        let (rows, ()) = tokio::join!(reader_fetch, write);
        rows.unwrap()
    };
    let diffs: Vec<(i64, String)> = fetch.iter().map(|r| (r.get(1), r.get(3))).collect();
    assert_eq!(diffs, vec![(-1, "a".to_string()), (1, "z".to_string())]);
    assert_eq!(subscription_count(&writer).await, 1);

    reader.batch_execute("CLOSE c").await.unwrap();
    let error = reader.query("FETCH 1 c", &[]).await.unwrap_err();
    assert_eq!(error.code().unwrap().code(), "34000");
    reader.batch_execute("ROLLBACK").await.unwrap();
    wait_for_subscriptions(&writer, 0).await;

    // COMMIT closes the transaction's cursors.
    reader
        .batch_execute("BEGIN; DECLARE d CURSOR FOR SUBSCRIBE TO t WITH (SNAPSHOT = false); COMMIT")
        .await
        .unwrap();
    wait_for_subscriptions(&writer, 0).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_disconnect_free_the_subscriber() {
    let server = common::start_server().await;
    let (writer, _w) = connect(&server).await;
    writer
        .batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();

    // Cancel: the stream ends with 57014 and the connection stays usable.
    let (reader, _r) = connect(&server).await;
    let mut stream = subscribe(&reader, "SUBSCRIBE TO t").await;
    next_change(&mut stream).await;
    assert_eq!(subscription_count(&writer).await, 1);
    reader.cancel_token().cancel_query(NoTls).await.unwrap();
    let ended = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    match ended {
        Some(Err(error)) => assert_eq!(error.code().unwrap().code(), "57014"),
        other => panic!("expected a cancel error, got {other:?}"),
    }
    wait_for_subscriptions(&writer, 0).await;
    let one: i64 = reader
        .query_one("SELECT 1::BIGINT", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(one, 1);

    // A FETCH waiting without a timeout is cancelled too.
    reader
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE TO t WITH (SNAPSHOT = false)")
        .await
        .unwrap();
    let token = reader.cancel_token();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    };
    let (fetched, ()) = tokio::join!(reader.query("FETCH ALL c", &[]), cancel);
    assert_eq!(fetched.unwrap_err().code().unwrap().code(), "57014");
    // The block failed; ROLLBACK ends it and closes the cursor.
    let error = reader.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(error.code().unwrap().code(), "25P02");
    reader.batch_execute("ROLLBACK").await.unwrap();
    wait_for_subscriptions(&writer, 0).await;

    // Disconnect: the client goes away mid-stream; the subscriber is freed.
    let (gone, connection) = connect(&server).await;
    let mut stream = subscribe(&gone, "SUBSCRIBE TO t").await;
    next_change(&mut stream).await;
    assert_eq!(subscription_count(&writer).await, 1);
    drop(stream);
    drop(gone);
    connection.abort();
    wait_for_subscriptions(&writer, 0).await;
    // Commits go on regardless.
    writer
        .execute("INSERT INTO t VALUES (2)", &[])
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_errors() {
    let server = common::start_server().await;
    let (client, _c) = connect(&server).await;
    let error = client
        .batch_execute("SUBSCRIBE TO nothing_here")
        .await
        .unwrap_err();
    let db = error.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42P01");
    assert_eq!(
        db.position(),
        Some(&tokio_postgres::error::ErrorPosition::Original(14))
    );
    let error = client
        .batch_execute("SUBSCRIBE TO nothing_here WITH (SNAPSHOT = perhaps)")
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "22023");
    client
        .batch_execute("CREATE TABLE t (id BIGINT)")
        .await
        .unwrap();
    let error = client
        .batch_execute("SUBSCRIBE TO t; SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "0A000");
    // The refused subscription is unregistered (asynchronously, when it is dropped).
    wait_for_subscriptions(&client, 0).await;
    server.shutdown().await;
}

/// Subscriptions to relations of a schema: named qualified, or unqualified on the search
/// path, a view's and a query's rows come from that schema's table, not `public`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_to_relations_of_a_schema() {
    let server = common::start_server().await;
    let (client, _c) = connect(&server).await;
    client
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY);
             INSERT INTO t VALUES (100);
             CREATE SCHEMA s;
             CREATE TABLE s.t (id BIGINT PRIMARY KEY);
             CREATE VIEW s.v AS SELECT id * 2 AS twice FROM s.t;
             INSERT INTO s.t VALUES (1);",
        )
        .await
        .unwrap();
    // One subscription per connection (each runs until cancelled).
    let (on_path, _o) = connect(&server).await;
    let (query_path, _q) = connect(&server).await;
    // `t` on the path `s, public` is s.t (public.t exists too): the first schema wins.
    let (shadowed, _s) = connect(&server).await;
    for session in [&on_path, &query_path, &shadowed] {
        session
            .batch_execute("SET search_path TO s, public")
            .await
            .unwrap();
    }
    let (watcher, _w) = connect(&server).await;
    let mut table = subscribe(&watcher, "SUBSCRIBE TO s.t").await;
    let mut view = subscribe(&on_path, "SUBSCRIBE TO v").await;
    let mut query = subscribe(&query_path, "SUBSCRIBE TO (SELECT id FROM t)").await;
    let mut first_on_path = subscribe(&shadowed, "SUBSCRIBE TO t").await;
    assert_eq!(next_change(&mut table).await.2, vec![Some("1".into())]);
    assert_eq!(
        next_change(&mut first_on_path).await.2,
        vec![Some("1".into())]
    );
    assert_eq!(next_change(&mut view).await.2, vec![Some("2".into())]);
    assert_eq!(next_change(&mut query).await.2, vec![Some("1".into())]);
    client
        .batch_execute("INSERT INTO s.t VALUES (5); INSERT INTO t VALUES (200)")
        .await
        .unwrap();
    assert_eq!(next_change(&mut table).await.2, vec![Some("5".into())]);
    assert_eq!(next_change(&mut view).await.2, vec![Some("10".into())]);
    assert_eq!(next_change(&mut query).await.2, vec![Some("5".into())]);
    assert_eq!(
        next_change(&mut first_on_path).await.2,
        vec![Some("5".into())]
    );
    drop((table, view, query, first_on_path));
    server.shutdown().await;
}
