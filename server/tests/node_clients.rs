//! node-postgres (`pg`) against an in-process server. Skipped with a message when node or
//! the `pg` package (npm install in tests/clients) is missing, unless CI=true.

use std::process::Command;

use sluice_server::{Server, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_pg_client_works() {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    let available = Command::new("node")
        .args(["-e", "require('pg')"])
        .current_dir(clients)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !available {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node and the pg package are required (cd server/tests/clients && npm install)"
        );
        eprintln!("skipped: node pg is not installed");
        return;
    }
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    let port = server.local_addr().port();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("node_pg_smoke.js")
            .arg(port.to_string())
            .current_dir(clients)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.shutdown().await;
    assert!(
        output.status.success(),
        "node pg failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
