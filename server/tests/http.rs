//! The HTTP operations endpoint: `/health` and `/metrics` reflect the live server.

use std::io::Write;

use sluice_server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::NoTls;

/// `GET path` over a plain HTTP/1.1 connection: (status code, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_reflect_the_server() {
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    })
    .await
    .expect("start");
    let http = server.http_addr().expect("http endpoint");

    let (status, body) = get(http, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("in.json");
    {
        let mut out = std::fs::File::create(&file).expect("file");
        for i in 0..100 {
            writeln!(out, r#"{{"k": {}, "v": {i}}}"#, i % 3).expect("write");
        }
        writeln!(out, "not json").expect("write");
    }
    let config = format!(
        "host=127.0.0.1 port={} user=sluice dbname=sluice",
        server.local_addr().port()
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE TABLE t (k INT PRIMARY KEY, v INT);
             CREATE TABLE clicks (k INT, v BIGINT) WITH (
                 'connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'bad-rows' = 'skip');
             CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n FROM clicks GROUP BY k;",
            file.display()
        ))
        .await
        .expect("create");
    // Wait for the source to finish.
    for _ in 0..500 {
        let rows = client
            .query("SELECT coalesce(sum(n), 0)::BIGINT FROM per_k", &[])
            .await
            .expect("query");
        if rows[0].get::<_, i64>(0) == 100 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let (status, metrics) = get(http, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    for line in [
        "sluice_up 1",
        "sluice_connections_active 1",
        "sluice_relations{kind=\"table\"} 2",
        "sluice_relations{kind=\"materialized view\"} 1",
        "sluice_query_state_rows{query=\"per_k\"} 3",
        "sluice_query_source_rows_total{query=\"per_k\"} 100",
        "sluice_query_bad_rows_total{query=\"per_k\"} 1",
        "sluice_query_late_rows_total{query=\"per_k\"} 0",
        "sluice_query_failed{query=\"per_k\"} 0",
        "# TYPE sluice_query_source_rows_total counter",
        "# TYPE sluice_spilled_entries_total counter",
        "# TYPE sluice_reloaded_entries_total counter",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in:\n{metrics}"
        );
    }
    let (status, body) = get(http, "/health").await;
    assert_eq!(
        (status, body.contains("\"queries\":1")),
        (200, true),
        "{body}"
    );
    let (status, _) = get(http, "/nope").await;
    assert_eq!(status, 404);
    drop(client);
    server.shutdown().await;
}
