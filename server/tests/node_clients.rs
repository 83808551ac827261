//! node-postgres (`pg`) against an in-process server. Skipped with a message when node or
//! the `pg` package (npm install in tests/clients) is missing, unless CI=true.

mod common;

use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_pg_client_works() {
    let clients = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients"));
    if common::require(
        common::succeeds("node", &["-e", "require('pg')"], clients),
        "node with the pg package (cd server/tests/clients && npm install)",
    ) {
        common::run_client("node", &["node_pg_smoke.js"], clients).await;
    }
}
