//! Python client scripts (`tests/clients/*.py`) against an in-process server: psycopg 3
//! and asyncpg. A script whose client library is not installed is skipped with a message,
//! unless CI=true, where every client must run.

use std::process::Command;

use sluice_server::{Server, ServerConfig};

fn has_module(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

async fn run_client_script(module: &str, script: &str) {
    if !has_module(module) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python module {module} is not installed"
        );
        eprintln!("skipped: python module {module} is not installed");
        return;
    }
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    let port = server.local_addr().port();
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(path)
            .arg(port.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.shutdown().await;
    assert!(
        output.status.success(),
        "{script} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg3_client_works() {
    run_client_script("psycopg", "psycopg_smoke.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncpg_client_works() {
    run_client_script("asyncpg", "asyncpg_smoke.py").await;
}
