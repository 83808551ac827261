//! Runs `tests/clients/psycopg_smoke.py` (psycopg 3) against an in-process server. Skipped
//! with a message when psycopg is not installed, unless CI=true, where it must run.

use std::process::Command;

use sluice_server::{Server, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg3_client_works() {
    let has_psycopg = Command::new("python3")
        .args(["-c", "import psycopg"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_psycopg {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "psycopg 3 is not installed (pip install 'psycopg[binary]')"
        );
        eprintln!("skipped: psycopg 3 is not installed");
        return;
    }
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    let port = server.local_addr().port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg_smoke.py"
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.shutdown().await;
    assert!(
        output.status.success(),
        "psycopg smoke test failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
