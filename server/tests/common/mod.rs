//! Shared helpers for the server's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::process::{Command, Output};

use sluice_server::{Server, ServerConfig};

/// Start a server on a free loopback port.
pub async fn start_server() -> Server {
    Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A tokio-postgres client of `server` (no TLS, trust auth) and the task driving its
/// connection (abort it to drop the connection abruptly).
pub async fn connect(server: &Server) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let address = server.local_addr();
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=sluice dbname=sluice",
            address.ip(),
            address.port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, task)
}

/// Skip (or, under CI=true, fail) when a client toolchain is missing.
pub fn require(available: bool, what: &str) -> bool {
    if !available {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is required but not installed"
        );
        eprintln!("skipped: {what} is not installed");
    }
    available
}

/// Run `program args... PORT` in `dir` against a fresh server and assert it succeeds.
pub async fn run_client(program: &str, args: &[&str], dir: &Path) {
    let server = start_server().await;
    let port = server.local_addr().port().to_string();
    let mut command = Command::new(program);
    command.args(args).arg(port).current_dir(dir);
    let output: Output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    server.shutdown().await;
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Does `program args...` run successfully in `dir`?
pub fn succeeds(program: &str, args: &[&str], dir: &Path) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
