//! Harness for the sqllogictest suite in `sql-tests/slt/`.
//!
//! Every file runs over the wire with the Postgres engines of `sqllogictest-engines` (the
//! engines behind `sqllogictest --engine postgres` and `--engine postgres-extended`):
//! - against Sluice (a fresh in-process server per file and protocol), and
//! - against a real PostgreSQL 15 started in a temp dir, with `MATERIALIZED VIEW` rewritten
//!   to `VIEW`: PostgreSQL then computes every view from scratch, which is the batch oracle
//!   that Sluice's incrementally maintained views must match.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqllogictest::Runner;
use sqllogictest_engines::postgres::{PostgresConfig, PostgresExtended, PostgresSimple};

/// The wire protocol a run uses.
#[derive(Debug, Clone, Copy)]
pub enum Protocol {
    Simple,
    Extended,
}

/// All `.slt` files, sorted by name, filtered by `SLT_FILTER` (a substring) when set.
pub fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("slt");
    let filter = std::env::var("SLT_FILTER").ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .filter(|path| {
            filter
                .as_deref()
                .is_none_or(|f| path.to_string_lossy().contains(f))
        })
        .collect();
    files.sort();
    files
}

/// Rewrite a script for PostgreSQL: materialized views become plain views.
pub fn rewrite_for_postgres(script: &str) -> String {
    script
        .replace("CREATE MATERIALIZED VIEW", "CREATE VIEW")
        .replace("DROP MATERIALIZED VIEW", "DROP VIEW")
}

/// Run one script file against a server at `host:port`, database `database`.
pub async fn run_file(
    path: &Path,
    host: &str,
    port: u16,
    user: &str,
    database: &str,
    protocol: Protocol,
) -> Result<(), String> {
    let mut config = PostgresConfig::new();
    config
        .host(host)
        .port(port)
        .user(user)
        .dbname(database)
        .connect_timeout(Duration::from_secs(10));
    let run = async {
        match protocol {
            Protocol::Simple => {
                let config = config.clone();
                let mut runner = Runner::new(move || {
                    let config = config.clone();
                    async move { PostgresSimple::connect(config).await }
                });
                runner.run_file_async(path).await
            }
            Protocol::Extended => {
                let config = config.clone();
                let mut runner = Runner::new(move || {
                    let config = config.clone();
                    async move { PostgresExtended::connect(config).await }
                });
                runner.run_file_async(path).await
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("{}", error.display(false))),
        Err(_) => Err("timed out after 60 s".into()),
    }
}

/// A PostgreSQL 15 server in a temp dir, stopped on drop.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

/// Run a command as the `postgres` OS user when we are root (initdb refuses root).
fn as_postgres(program: &Path) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if is_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl TempPostgres {
    /// The directory of PostgreSQL 15's binaries, if installed.
    pub fn binaries() -> Option<PathBuf> {
        let candidates = [PathBuf::from("/usr/lib/postgresql/15/bin")];
        candidates
            .into_iter()
            .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
    }

    /// initdb and start a server on a free port.
    pub fn start() -> Result<Self, String> {
        let bin = Self::binaries().ok_or("PostgreSQL 15 binaries not found")?;
        let dir = tempfile::Builder::new()
            .prefix("sluice-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let status = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("warning: could not chown the PostgreSQL dir to postgres");
        }
        let data = dir.path().join("data");
        let output = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC",
            dir.path().display()
        );
        let output = as_postgres(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-t", "60", "-l"])
            .arg(dir.path().join("log"))
            .arg("start")
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(Self { dir, bin, port })
    }

    /// Create a database and return its name.
    pub async fn create_database(&self, name: &str) -> Result<(), String> {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                self.port
            ),
            tokio_postgres::NoTls,
        )
        .await
        .map_err(|e| e.to_string())?;
        let task = tokio::spawn(connection);
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&statement).await.map_err(|e| {
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string())
            })?;
        }
        drop(client);
        let _ = task.await;
        Ok(())
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// Format a list of failures as a report; `Ok` when empty.
pub fn report(failures: Vec<String>, total: usize) -> Result<(), String> {
    println!(
        "{} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n\n"))
    }
}
