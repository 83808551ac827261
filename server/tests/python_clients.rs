//! Python client scripts (`tests/clients/*.py`) against an in-process server: psycopg 3
//! and asyncpg. A script whose client library is not installed is skipped with a message,
//! unless CI=true, where every client must run.

mod common;

use std::path::Path;

fn clients() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients"))
}

async fn run_client_script(module: &str, script: &str) {
    let import = format!("import {module}");
    if common::require(
        common::succeeds("python3", &["-c", &import], clients()),
        &format!("python module {module}"),
    ) {
        common::run_client("python3", &[script], clients()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg3_client_works() {
    run_client_script("psycopg", "psycopg_smoke.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncpg_client_works() {
    run_client_script("asyncpg", "asyncpg_smoke.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg3_follows_a_view_with_subscribe() {
    run_client_script("psycopg", "psycopg_subscribe.py").await;
}
