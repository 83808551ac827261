//! Harness for the sqllogictest suite in `sql-tests/slt/`.
//!
//! Every file runs over the wire with the Postgres engines of `sqllogictest-engines` (the
//! engines behind `sqllogictest --engine postgres` and `--engine postgres-extended`):
//! - against Sluice (a fresh in-process server per file and protocol), and
//! - against a real PostgreSQL 15 started in a temp dir, with `MATERIALIZED VIEW` rewritten
//!   to `VIEW`: PostgreSQL then computes every view from scratch, which is the batch oracle
//!   that Sluice's incrementally maintained views must match.
//!
//! `sql-tests/slt-pending/` holds files that PostgreSQL passes and Sluice does not yet (known
//! divergences): the PostgreSQL run checks them too, the Sluice run skips them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use sqllogictest_engines::postgres::{PostgresConfig, PostgresExtended, PostgresSimple};

/// How long one file may take with one protocol.
pub const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// The wire protocol a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Simple query protocol, text results (`--engine postgres`).
    Simple,
    /// Extended query protocol, binary results (`--engine postgres-extended`).
    Extended,
}

impl Protocol {
    /// Both protocols, in the order the suites run them.
    pub const ALL: [Protocol; 2] = [Protocol::Simple, Protocol::Extended];
}

/// An engine error whose text includes the server's message. `tokio_postgres::Error` displays
/// as just "db error" and keeps the message in its source; `statement error <regex>` matches
/// the displayed text, so this shows the whole chain: "db error: ERROR: relation ... does not
/// exist" (the same text as `sqllogictest-bin` built with `--locked`).
#[derive(Debug)]
pub struct VerboseError {
    text: String,
    sql_state: Option<String>,
    source: tokio_postgres::Error,
}

impl From<tokio_postgres::Error> for VerboseError {
    fn from(error: tokio_postgres::Error) -> Self {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        Self {
            text,
            sql_state: error.code().map(|code| code.code().to_owned()),
            source: error,
        }
    }
}

impl std::fmt::Display for VerboseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for VerboseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A `sqllogictest-engines` Postgres engine whose errors are [`VerboseError`]s.
pub struct Verbose<D>(pub D);

#[async_trait::async_trait]
impl<D> AsyncDB for Verbose<D>
where
    D: AsyncDB<Error = tokio_postgres::Error, ColumnType = DefaultColumnType> + Send,
{
    type Error = VerboseError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, VerboseError> {
        self.0.run(sql).await.map_err(VerboseError::from)
    }

    async fn shutdown(&mut self) {
        self.0.shutdown().await
    }

    fn engine_name(&self) -> &str {
        self.0.engine_name()
    }

    async fn sleep(duration: Duration) {
        D::sleep(duration).await
    }

    async fn run_command(command: Command) -> std::io::Result<std::process::Output> {
        D::run_command(command).await
    }

    fn error_sql_state(error: &VerboseError) -> Option<String> {
        error.sql_state.clone()
    }
}

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
}

/// `sql-tests/slt/`: the suite every server must pass.
pub fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("slt")
}

/// `sql-tests/slt-pending/`: files valid on PostgreSQL that Sluice does not pass yet.
pub fn pending_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("slt-pending")
}

/// `sql-tests/slt-streaming/`: Sluice-only files (Flink's dialect: watermarks, window table
/// functions, connector tables), which PostgreSQL cannot run.
pub fn streaming_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("slt-streaming")
}

/// All `.slt` files of `slt/`, sorted by name, filtered by `SLT_FILTER` when set.
pub fn slt_files() -> Vec<PathBuf> {
    slt_files_in(&slt_dir())
}

/// All `.slt` files Sluice must pass: `slt/` then `slt-streaming/`.
pub fn sluice_slt_files() -> Vec<PathBuf> {
    let mut files = slt_files();
    files.extend(slt_files_in(&streaming_dir()));
    files
}

/// All `.slt` files of `slt-pending/`, sorted by name, filtered by `SLT_FILTER` when set.
pub fn pending_slt_files() -> Vec<PathBuf> {
    slt_files_in(&pending_dir())
}

/// The `.slt` files of `dir`, sorted by name; with `SLT_FILTER=substring`, only the files
/// whose name contains the substring. A missing directory has no files.
pub fn slt_files_in(dir: &Path) -> Vec<PathBuf> {
    let filter = std::env::var("SLT_FILTER").ok().filter(|f| !f.is_empty());
    slt_files_matching(dir, filter.as_deref())
}

/// The `.slt` files of `dir` whose name contains `filter` (all with `None`), sorted by name.
pub fn slt_files_matching(dir: &Path, filter: Option<&str>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .filter(|path| {
            filter.is_none_or(|f| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().contains(f))
            })
        })
        .collect();
    files.sort();
    files
}

/// Rewrite a script for PostgreSQL: `CREATE MATERIALIZED VIEW` becomes `CREATE VIEW` and
/// `DROP MATERIALIZED VIEW` becomes `DROP VIEW` (keywords matched case-insensitively, with
/// any run of spaces between them), so PostgreSQL recomputes each view on every read.
pub fn rewrite_for_postgres(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some((start, end, verb)) = find_materialized_view(rest) {
        out.push_str(&rest[..start]);
        out.push_str(verb);
        out.push_str(" VIEW");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The first `CREATE|DROP <ws> MATERIALIZED <ws> VIEW` in `text` as (start, end, verb), where
/// the keywords are whole words.
fn find_materialized_view(text: &str) -> Option<(usize, usize, &'static str)> {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let keyword_at = |at: usize, word: &str| -> Option<usize> {
        let end = at + word.len();
        (bytes.len() >= end
            && bytes[at..end].eq_ignore_ascii_case(word.as_bytes())
            && (at == 0 || !is_word(bytes[at - 1]))
            && (end == bytes.len() || !is_word(bytes[end])))
        .then_some(end)
    };
    let skip_space = |mut at: usize| -> Option<usize> {
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        (at > start).then_some(at)
    };
    (0..bytes.len()).find_map(|start| {
        let (after_verb, verb) = keyword_at(start, "CREATE")
            .map(|end| (end, "CREATE"))
            .or_else(|| keyword_at(start, "DROP").map(|end| (end, "DROP")))?;
        let materialized = skip_space(after_verb)?;
        let after_materialized = keyword_at(materialized, "MATERIALIZED")?;
        let view = skip_space(after_materialized)?;
        let end = keyword_at(view, "VIEW")?;
        Some((start, end, verb))
    })
}

/// Run one script file against `target` with `protocol`. The run happens in its own task, so
/// a panic in an engine (e.g. a result type the extended engine cannot decode) fails this
/// file only; it is cancelled after [`FILE_TIMEOUT`]. The error is the runner's report.
pub async fn run_file(path: &Path, target: &Target, protocol: Protocol) -> Result<(), String> {
    let mut config = PostgresConfig::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.user)
        .dbname(&target.database)
        .connect_timeout(Duration::from_secs(10));
    let path = path.to_path_buf();
    let mut task = tokio::spawn(async move {
        let result = match protocol {
            Protocol::Simple => {
                let mut runner = Runner::new(move || {
                    let config = config.clone();
                    async move {
                        PostgresSimple::connect(config)
                            .await
                            .map(Verbose)
                            .map_err(VerboseError::from)
                    }
                });
                runner.run_file_async(&path).await
            }
            Protocol::Extended => {
                let mut runner = Runner::new(move || {
                    let config = config.clone();
                    async move {
                        PostgresExtended::connect(config)
                            .await
                            .map(Verbose)
                            .map_err(VerboseError::from)
                    }
                });
                runner.run_file_async(&path).await
            }
        };
        result.map_err(|error| error.display(false).to_string())
    });
    match tokio::time::timeout(FILE_TIMEOUT, &mut task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) if join_error.is_panic() => {
            let payload = join_error.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            Err(format!("the sqllogictest engine panicked: {message}"))
        }
        Ok(Err(join_error)) => Err(format!("the run was cancelled: {join_error}")),
        Err(_) => {
            task.abort();
            Err(format!("timed out after {} s", FILE_TIMEOUT.as_secs()))
        }
    }
}

/// A display name for a file in reports: `slt/NAME.slt` or `slt-pending/NAME.slt`.
pub fn display_name(path: &Path) -> String {
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{dir}/{name}")
}

/// Whether the environment says we run in CI (`CI` set to anything but "", "0" or "false"):
/// then missing prerequisites are failures, not skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Collects the outcome of each (file, protocol) run and prints a summary.
#[derive(Debug, Default)]
pub struct Report {
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record one run; prints a line per run so progress is visible with `--nocapture`.
    pub fn record(&mut self, file: &Path, protocol: Protocol, result: Result<(), String>) {
        let name = display_name(file);
        match result {
            Ok(()) => {
                println!("ok     {name} ({protocol:?})");
                self.passed += 1;
            }
            Err(error) => {
                println!("FAILED {name} ({protocol:?})");
                self.failures
                    .push(format!("--- {name} ({protocol:?}):\n{}", error.trim_end()));
            }
        }
    }

    pub fn failed(&self) -> usize {
        self.failures.len()
    }

    pub fn passed(&self) -> usize {
        self.passed
    }

    /// Print `N passed, N failed` and return every failure, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), String> {
        println!(
            "sqllogictest: {} passed, {} failed",
            self.passed,
            self.failures.len()
        );
        if self.failures.is_empty() {
            Ok(())
        } else {
            Err(self.failures.join("\n\n"))
        }
    }
}

/// A PostgreSQL server in a temp dir, on 127.0.0.1 and a free port, stopped (and its
/// directory removed) on drop.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command for `program`, run as the `postgres` OS user when we are root (initdb and
/// postgres refuse to run as root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

impl TempPostgres {
    /// The directory holding `initdb` and `pg_ctl`: `$PG_BIN` if set, else Debian's
    /// PostgreSQL 15 (`/usr/lib/postgresql/15/bin`), else a `PATH` entry that has both, else
    /// `pg_config --bindir`.
    pub fn binaries() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("PG_BIN") {
            let dir = PathBuf::from(dir);
            return has_server_binaries(&dir).then_some(dir);
        }
        let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
        if has_server_binaries(&debian) {
            return Some(debian);
        }
        if let Some(path) = std::env::var_os("PATH") {
            if let Some(dir) = std::env::split_paths(&path).find(|d| has_server_binaries(d)) {
                return Some(dir);
            }
        }
        let output = Command::new("pg_config").arg("--bindir").output().ok()?;
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        (output.status.success() && has_server_binaries(&dir)).then_some(dir)
    }

    /// `initdb` a cluster in a fresh temp dir and start it on a free port.
    pub fn start() -> Result<Self, String> {
        let bin =
            Self::binaries().ok_or("PostgreSQL server binaries (initdb, pg_ctl) not found")?;
        let dir = tempfile::Builder::new()
            .prefix("sluice-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown postgres {} failed", dir.path().display()));
            }
        }
        let data = dir.path().join("data");
        // C.UTF-8: byte-order collation and Unicode case mapping; plain C where it is missing.
        let mut initdb_error = None;
        for locale in ["C.UTF-8", "C"] {
            let _ = std::fs::remove_dir_all(&data);
            let output = as_postgres(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
                .arg(format!("--locale={locale}"))
                .output()
                .map_err(|e| format!("initdb: {e}"))?;
            if output.status.success() {
                initdb_error = None;
                break;
            }
            initdb_error = Some(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        if let Some(error) = initdb_error {
            return Err(error);
        }
        // A port can be taken between probing and binding: retry a few times.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|e| format!("free port: {e}"))?;
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC",
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
            if output.status.success() {
                return Ok(Self { dir, bin, port });
            }
            let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
            last_error = format!(
                "pg_ctl start failed: {}{}\n{log}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Err(last_error)
    }

    /// Where to connect to database `database` as the superuser.
    pub fn target(&self, database: &str) -> Target {
        Target {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            database: database.into(),
        }
    }

    async fn admin(&self, statements: &[String]) -> Result<(), String> {
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
        let mut result = Ok(());
        for statement in statements {
            if let Err(e) = client.batch_execute(statement).await {
                result = Err(e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string()));
                break;
            }
        }
        drop(client);
        let _ = task.await;
        result
    }

    /// Create an empty database `name` (dropping an older one of that name).
    pub async fn create_database(&self, name: &str) -> Result<(), String> {
        self.admin(&[
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ])
        .await
    }

    /// Drop database `name`.
    pub async fn drop_database(&self, name: &str) -> Result<(), String> {
        self.admin(&[format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
            .await
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_materialized_views_only() {
        let script = "statement ok\nCREATE MATERIALIZED VIEW m AS SELECT 1\n\n\
                      statement ok\ndrop  materialized\tview m\n\n\
                      statement ok\nCREATE VIEW v AS SELECT 'CREATE MATERIALIZEDVIEW'\n\n\
                      statement ok\nDROP MATERIALIZED VIEW IF EXISTS m\n";
        assert_eq!(
            rewrite_for_postgres(script),
            "statement ok\nCREATE VIEW m AS SELECT 1\n\n\
             statement ok\nDROP VIEW m\n\n\
             statement ok\nCREATE VIEW v AS SELECT 'CREATE MATERIALIZEDVIEW'\n\n\
             statement ok\nDROP VIEW IF EXISTS m\n"
        );
    }

    #[test]
    fn finds_the_suite() {
        let files = slt_files_matching(&slt_dir(), None);
        assert!(files.len() >= 45, "only {} .slt files", files.len());
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted);
        assert!(slt_files_matching(Path::new("/nonexistent-dir"), None).is_empty());
    }

    #[test]
    fn every_file_drops_what_it_creates() {
        // With SLUICE_ADDR and with sqllogictest-bin the files share one server: each file
        // drops every table it creates, and every view unless it drops a table with CASCADE.
        for file in slt_files_matching(&slt_dir(), None)
            .into_iter()
            .chain(slt_files_matching(&pending_dir(), None))
        {
            let script = std::fs::read_to_string(&file).unwrap().to_lowercase();
            let mut created = Vec::new();
            let mut dropped = Vec::new();
            let mut cascaded_schemas: Vec<String> = Vec::new();
            for line in script.lines() {
                let words: Vec<&str> = line
                    .split(|c: char| c.is_whitespace() || c == '(')
                    .filter(|w| !w.is_empty())
                    .collect();
                let name = |skip: &[&str]| {
                    words[1..]
                        .iter()
                        .find(|w| !skip.contains(w))
                        .map(|w| w.to_string())
                };
                match words.first() {
                    // A schema must be dropped; CASCADE drops what is in it.
                    Some(&"create") if words.get(1) == Some(&"schema") => {
                        if let Some(name) = name(&["schema", "if", "not", "exists"]) {
                            created.push(("schema", name));
                        }
                    }
                    Some(&"drop") if words.get(1) == Some(&"schema") => {
                        if let Some(name) = name(&["schema", "if", "exists"]) {
                            if words.contains(&"cascade") {
                                cascaded_schemas.push(name.clone());
                            }
                            dropped.push(name);
                        }
                    }
                    Some(&"create") => {
                        let kind = if words.contains(&"table") {
                            "table"
                        } else {
                            "view"
                        };
                        if let Some(name) = name(&["table", "materialized", "view"]) {
                            created.push((kind, name));
                        }
                    }
                    Some(&"drop") => {
                        if let Some(name) = name(&["table", "materialized", "view", "if", "exists"])
                        {
                            dropped.push(name);
                        }
                    }
                    _ => {}
                }
            }
            let cascades = script.contains("cascade");
            for (kind, name) in created {
                let in_dropped_schema = name
                    .split_once('.')
                    .is_some_and(|(schema, _)| cascaded_schemas.iter().any(|s| s == schema));
                assert!(
                    dropped.contains(&name) || kind == "view" && cascades || in_dropped_schema,
                    "{} creates {kind} {name} but does not drop it",
                    file.display()
                );
            }
        }
    }
}
